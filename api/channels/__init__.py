"""Channels: one module per way customers' messages reach polydesk, each mapping a platform's format.

A channel adapter does two things and nothing else: it turns what the platform sends (a request
body, a webhook payload) into polydesk ``CustomerMessage`` objects (market, channel, conversation,
customer, text), and it turns a polydesk ``Reply`` into what the platform expects back (a response
body, or the platform's send call). The answering itself is ``api.answering.answer``, shared by
every channel, so idempotency, the degraded mode and the metrics behave alike everywhere; the
route that receives the platform's requests lives in ``api.routes``.

=================  ===================================================================
``openai_chat``    OpenAI's chat-completions API (``/v1/chat/completions``)
=================  ===================================================================

Adding a channel: a module here with the platform's payload models and the two mappings (verify a
webhook's signature on the raw bytes before parsing anything), a route module in ``api.routes``
registered in ``api.app``, and tests that speak the platform's real wire format. The pipeline
(``agent``) does not change for a new channel.
"""
