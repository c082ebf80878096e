"""A loopback LLM provider on the OpenAI chat-completions route, for the benchmarks: instant, or hanging.

``POLYDESK_LLM_MODEL=openai/x`` with ``POLYDESK_LLM_BASE_URL=http://127.0.0.1:<port>/v1`` sends polydesk's LLM
calls here, through litellm as to any hosted model. The reply is a short sentence in the language the system
prompt asks for (``Reply only in German (Deutsch)...``), citing source [1], as a grounded model would write it,
so the guardrails pass it: the model's own time is zero and everything else is polydesk's. While ``hang`` is
set, requests are accepted and never answered (a provider that stopped answering).

    fake = FakeLLM()
    env = {"POLYDESK_LLM_MODEL": "openai/x", "POLYDESK_LLM_API_KEY": "sk-fake", **fake.env()}
    ...
    fake.stop()
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.generators.llm import language_label
from agent.phrases import say
from polydesk.language import SUPPORTED_LANGUAGES

_ASKED = re.compile(r"Reply only in (.+?), whatever")
_BY_LABEL = {language_label(code): code for code in SUPPORTED_LANGUAGES}


def _reply(body: dict[str, Any]) -> str:
    system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
    asked = _ASKED.search(system)
    language = _BY_LABEL.get(asked.group(1), "en") if asked else "en"
    return f"{say('safe_reply', language)} [1]"


class FakeLLM:
    """The provider, served on a thread of this process until ``stop()``; ``calls`` counts the requests."""

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a provider's API is used
            # The headers and the body go out as two writes: with Nagle's algorithm the body would wait for the
            # caller's delayed ACK of the headers, 40 ms on Linux, and the "instant" provider would not be.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                outer.calls += 1
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                while outer.hang.is_set():  # hold the connection, say nothing
                    time.sleep(0.1)
                body = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": "x",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": _reply(request)}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the caller gave up waiting (its timeout)
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        """The settings that send polydesk's LLM calls here."""
        return {"POLYDESK_LLM_MODEL": "openai/x", "POLYDESK_LLM_API_KEY": "sk-fake",
                "POLYDESK_LLM_BASE_URL": f"http://127.0.0.1:{self.port}/v1"}

    def stop(self) -> None:
        self.hang.clear()
        self.server.shutdown()
        self.server.server_close()
