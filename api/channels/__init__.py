"""Channels: one module per way customers' messages reach polydesk, each mapping a platform's format.

A channel adapter does two things and nothing else: it turns what the platform sends (a request
body, a webhook payload) into polydesk ``CustomerMessage`` objects (market, channel, conversation,
customer, text), and it turns a polydesk ``Reply`` into what the platform expects back (a response
body, or the platform's send call). The answering itself goes through ``agent.inbox.answer_or_keep``
(the degraded mode, alike everywhere); the route that receives the platform's requests lives in
``api.routes``. Webhook channels share ``base`` (the adapter interface), ``config`` (``POLYDESK_CHANNELS``),
``format`` (splitting and plain text per platform), ``queue`` (dedupe, debounce, a Redis stream),
``outbox`` (retries, backoff, dead letters), ``transport`` (a secret in a URL never reaches a log),
``dead_letters`` (what could not be sent or answered, for a person) and ``service`` (the background
workers). The web chat widget is not a webhook channel: ``api.widget`` and ``api.routes.widget``.

=================  ===================================================================
``openai_chat``    OpenAI's chat-completions API (``/v1/chat/completions``)
``line``           LINE Messaging API webhooks (``/v1/channels/line/{tenant}/webhook``)
``telegram``       Telegram Bot API webhooks
``whatsapp``       WhatsApp Cloud API webhooks, and the Meta signature, verification and 24-hour window
``messenger``      Messenger and Instagram messaging webhooks (Meta)
``email``          E-mail: IMAP polling or a signed raw-MIME POST in, SMTP replies in the same thread
``mailbox``        the IMAP poller of the e-mail accounts (a background worker of ``service``)
``mailtext``       a mail's own words: charsets, HTML as text, quoted history and signatures cut
=================  ===================================================================

Adding a webhook channel: a module here with an adapter (``base.ChannelAdapter``: verify the signature on
the raw bytes before parsing anything, parse, format, send), its account model in ``config`` and a branch
in ``service.adapter_for``; the route (``api.routes.channels``), queue, outbox and dead letters are shared.
Tests speak the platform's real wire format against a loopback fake. The pipeline (``agent``) does not
change for a new channel.
"""
