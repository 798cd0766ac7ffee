# The two commands a new user needs. Both create or reuse .venv and install what they need.
.PHONY: setup demo test lint

setup:
	@scripts/setup.sh

demo: setup  ## the main job on the embedded default: stdlib -> tokenizer -> Megatron GPT under Ray -> eval -> report
	.venv/bin/vibe demo

test: setup  ## the whole test suite, the integration tier against a real local vLLM server included
	scripts/install-vllm.sh
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
