"""What the widget's routes keep per conversation, and the few words of its interface.

A widget key is public, so a conversation id alone must never open a conversation: ``WidgetSessions`` records,
in Redis beside the conversation, which widget key opened it (``polydesk:widget:<tenant>:<id>``, expiring with
the conversation). A widget key continues only the conversations it opened; anything else reads as absent (404),
so nobody learns whether an id exists. The ids are server-made and unguessable (128 random bits).

Example:
    >>> sessions = WidgetSessions(client, ttl_s=3600)                                # doctest: +SKIP
    >>> session = sessions.open(caller, market="JP", language="ja", persona_id="jp-keigo")  # doctest: +SKIP
    >>> sessions.find(caller, session.conversation_id) == session                    # doctest: +SKIP
    True
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

import redis
from pydantic import BaseModel, Field, ValidationError

from api.auth import Caller
from personas.fields import closest_language
from polydesk.redisdb import redis_errors

KEY_PREFIX = "polydesk:widget"
# Written right to left (ISO 639-1 and -3 codes): Arabic, Hebrew, Persian, Urdu, Pashto, Sindhi, Yiddish, Divehi,
# Sorani Kurdish, Uyghur.
RTL_LANGUAGES = frozenset({"ar", "he", "iw", "fa", "ur", "ps", "sd", "yi", "dv", "ckb", "ug", "ara", "heb", "fas",
                           "per", "urd"})

Direction = Literal["ltr", "rtl"]
Label = Literal["open", "close", "message", "send", "handoff", "failed", "sources"]

# The widget's own words (everything else it shows is the persona's or the reply's). ``handoff`` is the state shown
# once a person owns the conversation; ``failed`` when a message could not be answered.
_LABELS: dict[str, dict[Label, str]] = {
    "en": {"open": "Open the chat", "close": "Close the chat", "message": "Write your message", "send": "Send",
           "handoff": "A person will answer you here.", "failed": "Your message could not be sent. Please try again.",
           "sources": "Sources"},
    "de": {"open": "Chat öffnen", "close": "Chat schließen", "message": "Ihre Nachricht", "send": "Senden",
           "handoff": "Eine Mitarbeiterin oder ein Mitarbeiter antwortet Ihnen hier.",
           "failed": "Ihre Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
           "sources": "Quellen"},
    "fr": {"open": "Ouvrir le chat", "close": "Fermer le chat", "message": "Votre message", "send": "Envoyer",
           "handoff": "Une personne de notre équipe vous répondra ici.",
           "failed": "Votre message n'a pas pu être envoyé. Veuillez réessayer.", "sources": "Sources"},
    "es": {"open": "Abrir el chat", "close": "Cerrar el chat", "message": "Escriba su mensaje", "send": "Enviar",
           "handoff": "Una persona de nuestro equipo le responderá aquí.",
           "failed": "No se pudo enviar su mensaje. Inténtelo de nuevo.", "sources": "Fuentes"},
    "pt": {"open": "Abrir o chat", "close": "Fechar o chat", "message": "Escreva sua mensagem", "send": "Enviar",
           "handoff": "Uma pessoa da nossa equipe vai responder aqui.",
           "failed": "Não foi possível enviar sua mensagem. Tente novamente.", "sources": "Fontes"},
    "id": {"open": "Buka obrolan", "close": "Tutup obrolan", "message": "Tulis pesan Anda", "send": "Kirim",
           "handoff": "Petugas kami akan membalas Anda di sini.",
           "failed": "Pesan Anda tidak terkirim. Silakan coba lagi.", "sources": "Sumber"},
    "ms": {"open": "Buka sembang", "close": "Tutup sembang", "message": "Tulis mesej anda", "send": "Hantar",
           "handoff": "Kakitangan kami akan membalas anda di sini.",
           "failed": "Mesej anda tidak dapat dihantar. Sila cuba lagi.", "sources": "Sumber"},
    "th": {"open": "เปิดแชท", "close": "ปิดแชท", "message": "พิมพ์ข้อความ", "send": "ส่ง",
           "handoff": "เจ้าหน้าที่จะตอบกลับคุณที่นี่", "failed": "ส่งข้อความไม่สำเร็จ โปรดลองอีกครั้ง",
           "sources": "แหล่งข้อมูล"},
    "vi": {"open": "Mở trò chuyện", "close": "Đóng trò chuyện", "message": "Nhập tin nhắn", "send": "Gửi",
           "handoff": "Nhân viên của chúng tôi sẽ trả lời Quý khách tại đây.",
           "failed": "Không gửi được tin nhắn. Vui lòng thử lại.", "sources": "Nguồn"},
    "ja": {"open": "チャットを開く", "close": "チャットを閉じる", "message": "メッセージを入力", "send": "送信",
           "handoff": "担当者がこちらでご返信いたします。",
           "failed": "メッセージを送信できませんでした。もう一度お試しください。", "sources": "参照元"},
    "zh": {"open": "打开聊天", "close": "关闭聊天", "message": "输入消息", "send": "发送",
           "handoff": "我们的工作人员会在这里回复您。", "failed": "消息发送失败，请重试。", "sources": "来源"},
    "zh-hant": {"open": "開啟聊天", "close": "關閉聊天", "message": "輸入訊息", "send": "傳送",
                "handoff": "我們的專人會在這裡回覆您。", "failed": "訊息傳送失敗，請再試一次。", "sources": "來源"},
    "ar": {"open": "فتح المحادثة", "close": "إغلاق المحادثة", "message": "اكتب رسالتك", "send": "إرسال",
           "handoff": "سيردّ عليك أحد أعضاء فريقنا هنا.", "failed": "تعذّر إرسال رسالتك. يُرجى المحاولة مرة أخرى.",
           "sources": "المصادر"},
}


def labels(language: str) -> dict[Label, str]:
    """The widget's words in ``language`` (its closest variant), else in English."""
    return _LABELS[closest_language(_LABELS, language) or "en"]


def direction(language: str) -> Direction:
    """``rtl`` for a language written right to left (``ar``, ``he-IL``, ``fa``, ``ur``), else ``ltr``."""
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def new_conversation_id() -> str:
    """``w-`` and 128 random bits in hex: unguessable, and a valid conversation id."""
    return f"w-{secrets.token_hex(16)}"


class WidgetSession(BaseModel):
    """A conversation the widget opened: by which key, for which market and language, with which persona."""

    conversation_id: str
    tenant: str
    key_id: str = Field(description="the short id of the widget key that opened it")
    market: str
    language: str
    persona_id: str
    opened_at: float


class WidgetSessions:
    """The widget's conversations of every tenant, in Redis, each for as long as its conversation is kept."""

    def __init__(self, client: redis.Redis, *, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s

    @staticmethod
    def key(tenant: str, conversation_id: str) -> str:
        return f"{KEY_PREFIX}:{tenant}:{conversation_id}"

    def open(self, caller: Caller, *, market: str, language: str, persona_id: str) -> WidgetSession:
        session = WidgetSession(conversation_id=new_conversation_id(), tenant=caller.tenant, key_id=caller.key_id,
                                market=market, language=language, persona_id=persona_id, opened_at=time.time())
        with redis_errors("open a widget conversation"):
            if not self.client.set(self.key(caller.tenant, session.conversation_id), session.model_dump_json(),
                                   ex=self.ttl_s, nx=True):
                raise RuntimeError("a new widget conversation id was already taken")  # 128 random bits: never
        return session

    def find(self, caller: Caller, conversation_id: str) -> WidgetSession | None:
        """The session, if ``caller``'s key opened it (None for any other id: absent, or another key's); its
        expiry starts again, as the conversation's does with each message."""
        key = self.key(caller.tenant, conversation_id)
        with redis_errors("read a widget conversation"):
            raw = self.client.get(key)
            if raw is None:
                return None
            self.client.expire(key, self.ttl_s)
        try:
            session = WidgetSession.model_validate_json(raw)
        except ValidationError:
            return None
        if session.key_id != caller.key_id or session.tenant != caller.tenant:
            return None
        return session
