"""Channels: one module per way customers' messages reach polydesk, each mapping a platform's format.

A channel adapter does two things and nothing else: it turns what the platform sends (a request
body, a webhook payload) into polydesk ``CustomerMessage`` objects (market, channel, conversation,
customer, text), and it turns a polydesk ``Reply`` into what the platform expects back (a response
body, or the platform's send call). The answering itself goes through ``agent.inbox.answer_or_keep``
(the degraded mode, alike everywhere); the route that receives the platform's requests lives in
``api.routes``. Webhook channels share ``base`` (the adapter interface), ``config`` (``POLYDESK_CHANNELS``),
``format`` (splitting and plain text per platform), ``queue`` (dedupe, debounce, a Redis stream),
``outbox`` (retries, backoff, dead letters) and ``service`` (the background workers).

=================  ===================================================================
``openai_chat``    OpenAI's chat-completions API (``/v1/chat/completions``)
``line``           LINE Messaging API webhooks (``/v1/channels/line/{tenant}/webhook``)
``telegram``       Telegram Bot API webhooks
``whatsapp``       WhatsApp Cloud API webhooks, and the Meta signature, verification and 24-hour window
``messenger``      Messenger and Instagram messaging webhooks (Meta)
=================  ===================================================================

Adding a channel: a module here with the platform's payload models and the two mappings (verify a
webhook's signature on the raw bytes before parsing anything), a route module in ``api.routes``
registered in ``api.app``, and tests that speak the platform's real wire format. The pipeline
(``agent``) does not change for a new channel.
"""
