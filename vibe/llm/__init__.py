"""The LLM the agent thinks with: a local vLLM server, and the HTTP client the agent uses to talk to it.

The agent programs against :class:`ChatModel` (``complete`` for text, ``structured`` for a validated pydantic
object). :class:`OpenAIChatModel` speaks the OpenAI chat-completions API to ``$VIBE_LLM_URL`` (default: the
local server); :class:`ScriptedChatModel` replays canned answers. :func:`ensure_server` makes the local
server answer, installing vLLM into its own venv and converting the default model (SmolLM2-135M-Instruct)
on first use; ``vibe llm serve | status | stop`` do the same from the command line.
"""

from vibe.llm._agent_model import (
    AGENT_MODEL_NAME,
    AgentModel,
    agent_model_file,
    register_agent_model,
    registered_agent_model,
    unregister_agent_model,
)
from vibe.llm._chat import ChatModel, Completion, Message, ScriptedChatModel, StructuredResult, Usage
from vibe.llm._client import DEFAULT_URL, LLMConfig, OpenAIChatModel, ToolTurn, list_models, request_json
from vibe.llm._errors import LLMError, LLMResponseError, LLMUnavailable
from vibe.llm._install import VllmEnv, has_gpu, install_state, install_vllm
from vibe.llm._model import (
    DEFAULT_MODEL_NAME,
    check_cpu_servable,
    convert_gguf,
    default_model_dir,
    prepare_default_model,
)
from vibe.llm._server import (
    Endpoint,
    ServerConfig,
    ServerStatus,
    configured_port,
    ensure_server,
    serve,
    server_status,
    start_process,
    stop_server,
    with_agent_model,
)
from vibe.llm._steps import log_tail, run_step

__all__ = [
    "AGENT_MODEL_NAME",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_URL",
    "AgentModel",
    "ChatModel",
    "Completion",
    "Endpoint",
    "LLMConfig",
    "LLMError",
    "LLMResponseError",
    "LLMUnavailable",
    "Message",
    "OpenAIChatModel",
    "ScriptedChatModel",
    "ServerConfig",
    "ServerStatus",
    "StructuredResult",
    "ToolTurn",
    "Usage",
    "VllmEnv",
    "agent_model_file",
    "check_cpu_servable",
    "configured_port",
    "convert_gguf",
    "default_model_dir",
    "ensure_server",
    "has_gpu",
    "install_state",
    "install_vllm",
    "list_models",
    "log_tail",
    "prepare_default_model",
    "register_agent_model",
    "registered_agent_model",
    "request_json",
    "run_step",
    "serve",
    "server_status",
    "start_process",
    "stop_server",
    "unregister_agent_model",
    "with_agent_model",
]
