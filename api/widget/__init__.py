"""The web chat widget: the script a brand's page embeds (``widget.js``) and what its routes keep per conversation.

``sessions``: which widget key opened which conversation (server-side, in Redis), the conversation ids, the
widget's few interface labels in the languages polydesk speaks, and the text direction of a language. The routes
are ``api.routes.widget``.
"""
