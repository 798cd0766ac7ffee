# The two commands a new user needs. Both create or reuse .venv and install what they need.
.PHONY: setup demo test test-fast lint

setup:
	@scripts/setup.sh

demo: setup  ## the main job on the embedded default: stdlib -> tokenizer -> Megatron GPT under Ray -> eval -> report
	.venv/bin/vibe demo

test: setup  ## the layering contract, then the whole test suite (the integration tier against a real local vLLM server included)
	.venv/bin/lint-imports --no-cache
	scripts/install-vllm.sh
	.venv/bin/python -m pytest -q

test-fast: setup  ## the layering contract and the fast tier: no training under Ray, no LLM (a few minutes)
	.venv/bin/lint-imports --no-cache
	.venv/bin/python -m pytest -q -m "not slow and not llm"

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports --no-cache
