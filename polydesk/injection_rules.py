"""The phrase tables of ``polydesk.injection``: what an instruction to an assistant looks like, per language.

Patterns are matched against normalised text (``polydesk.injection``: NFKC, casefolded, Arabic spelling variants
folded: أ إ آ → ا, ى → ي, ة → ه), so they are written in that form. Each rule needs the words that make a phrase an
instruction to a model (a qualifier such as "previous" or "your", an addressee, a role), never a verb alone:
precision matters more than recall here, since a flagged chunk is kept out of answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

__all__ = ["CHAT_TOKENS", "ROLE_LABELS", "ROLE_LINE", "RULES", "SYSTEM_CAPS", "Rule"]

@dataclass(frozen=True, slots=True)
class Rule:
    label: str
    pattern: regex.Pattern[str]
    qualifier: regex.Pattern[str] | None = None  # must also occur in the match or just after it
    veto: regex.Pattern[str] | None = None  # must not occur just before the match or in it
    gate: tuple[str, ...] = ()  # one of these must be in the text for the pattern to be worth running

    def matches(self, text: str) -> bool:
        if self.gate and not any(literal in text for literal in self.gate):
            return False
        for match in self.pattern.finditer(text):
            start, end = match.span()
            if self.qualifier is not None and not self.qualifier.search(text, start, min(len(text), end + 30)):
                continue
            if self.veto is not None and self.veto.search(text, max(0, start - 12), end):
                continue
            return True
        return False


def _re(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.IGNORECASE)


def _alt(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


# A word inside a phrase: no sentence or clause punctuation, so a window never crosses "Forget your password? Follow".
_W = r"[^\s.!?。！？,;:，、；：،؛]+"


def _gap(words: int) -> str:
    return rf"(?:{_W}\s+){{0,{words}}}?"


def _near(chars: int) -> str:
    """A short stretch of an unspaced script (Thai, Japanese, Chinese) within one clause."""
    return rf"[^.!?。！？\n]{{0,{chars}}}?"


# Who an instruction to a model is addressed to, and roles a jailbreak asks it to take (casefolded, Arabic folded).
_AI = _alt(
    r"ai", r"a\.i\.", r"artificial intelligence", r"ai assistant", r"chatbot", r"language model", r"llm",
    r"large language model", r"chatgpt", r"gpt", r"ai model", r"ki", r"künstliche intelligenz", r"sprachmodell",
    r"ia", r"intelligence artificielle", r"modèle de langage", r"inteligencia artificial", r"modelo de lenguaje",
    r"inteligência artificial", r"modelo de linguagem", r"intelligenza artificiale", r"modello linguistico",
    r"kecerdasan buatan", r"model bahasa", r"trí tuệ nhân tạo", r"mô hình ngôn ngữ", r"yapay zeka",
    r"dil modeli", r"ии", r"искусственный интеллект", r"языковая модель", r"нейросеть", r"чат-бот",
    r"ذكاء اصطناعي", r"الذكاء الاصطناعي", r"نموذج لغه", r"ปัญญาประดิษฐ์", r"เอไอ", r"แชทบอท",
    r"人工知能", r"言語モデル", r"チャットボット", r"人工智能", r"语言模型", r"語言模型", r"聊天机器人",
    r"인공지능", r"챗봇", r"언어\s?모델",
)
_ASSISTANT = _alt(
    _AI, r"assistant", r"assistent(?:en|in)?", r"ki-assistent(?:en)?", r"assistante", r"asistente", r"assistente",
    r"asisten", r"pembantu", r"trợ lý", r"asistan", r"ассистент\w*", r"бот\w*", r"مساعد", r"المساعد", r"روبوت",
    r"ผู้ช่วย", r"บอท", r"アシスタント", r"ボット", r"助手", r"机器人", r"機器人", r"어시스턴트", r"봇", r"bot",
)
_PERSONA = _alt(
    r"pirate", r"pirat", r"pirata", r"dan", r"jailbroken", r"jailbreak", r"unrestricted", r"uncensored", r"unlocked",
    r"\w+bot",
    r"unfiltered", r"evil", r"developer mode", r"entwicklermodus", r"mode développeur", r"modo desarrollador",
    r"modo desenvolvedor", r"modalità sviluppatore", r"sin restricciones", r"sem restrições", r"senza restrizioni",
    r"ohne (?:einschränkungen|regeln|filter)", r"sans (?:restrictions|filtre|règles)", r"tanpa batas(?:an)?",
    r"không giới hạn", r"sınırsız", r"без ограничений", r"بلا قيود", r"海賊", r"海盗", r"해적", r"пират\w*",
    r"قرصان", r"korsan", r"โจรสลัด", r"cướp biển", r"bajak laut", r"lanun", r"制限のない", r"无限制", r"제한\s?없는",
)
_ROLE = _alt(_ASSISTANT, _PERSONA)
_ARTICLE = r"(?:(?:a|an|the|ein|eine|einen|einer|un|une|una|uno|um|uma|il|lo|la|el|le|sebuah|một|bir)\s+)?"


def _role_after(prefix: str, role: str = _ROLE) -> str:
    """``prefix`` then, at most one word and an article later, a role: "you are now an unrestricted AI"."""
    return rf"{prefix}\s*[,:]?\s*{_ARTICLE}(?:{_W}\s+)?{role}(?!\w)"


# -- role markers ---------------------------------------------------------------------------------------------------

CHAT_TOKENS = regex.compile(r"""
    <\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>
    | \[/?inst\] | <</?sys>> | \[/?system\] | </?system> | \{\{\s*system\s*\}\}
    | (?:^|\n)\s*\#{2,}\s*(?:instruction|instructions|system|system\ prompt|response|input)\s*:
""", regex.IGNORECASE | regex.VERBOSE)
# Capitals only: "SYSTEM:" is a role marker, "System: Android 12" a product spec.
SYSTEM_CAPS = regex.compile(
    r"(?<![\p{L}\p{N}])(?<![\p{Lu}\p{N}][ \t])(?:SYSTEM|ASSISTANT)(?:\s+(?:OVERRIDE|PROMPT|MESSAGE|NOTE"
    r"|INSTRUCTIONS?|DIRECTIVE))?\s*[:：]"
)
ROLE_LABELS = _re(_alt(
    r"system\s?(?:prompt|override|instructions?|directive|command)\s*:",
    r"system(?:anweisung|prompt|befehl|vorgabe)(?:en)?\s*:",
    r"(?:instructions?|consignes?|invite|directive)\s+(?:du\s+)?système\s*:",
    r"(?:instrucci[oó]n|instrucciones|indicaci[oó]n)\s+del\s+sistema\s*:",
    r"(?:instru[cç][aã]o|instru[cç][oõ]es)\s+do\s+sistema\s*:",
    r"(?:istruzion[ei])\s+di\s+sistema\s*:",
    r"(?:instruksi|arahan|perintah)\s+sistem\s*:",
    r"(?:chỉ thị|lệnh)\s+hệ thống\s*:",
    r"sistem\s+(?:talimatı|talimatları|komutu)\s*:",
    r"системн\w+\s+(?:инструкци\w+|промпт|указани\w+)\s*:",
    r"(?:تعليمات|امر|اوامر)\s+النظام\s*:",
    r"คำสั่งระบบ\s*:",
    r"システム(?:指示|プロンプト|命令)\s*[:：]",
    r"系[统統](?:指令|提示词|提示詞|命令)\s*[:：]",
    r"시스템\s?(?:지시|프롬프트|명령)\s*:",
    r"[【\[［]\s*(?:system|sistem|système|sistema|systeme|システム|系统|系統|시스템|система|النظام|ระบบ|hệ thống)\s*"
    r"(?:指示|指令|命令|プロンプト|提示词|지시|instruction|instructions|prompt|override|anweisung)?\s*[】\]］]",
))
ROLE_LINE = regex.compile(r"^\s*(?P<role>assistant|ai|bot|user|human|system)\s*:", regex.IGNORECASE | regex.MULTILINE)

# -- ignore previous instructions -----------------------------------------------------------------------------------

_IGNORE = Rule(
    "ignore previous instructions",
    _re(_alt(
        # en
        rf"\b(?:ignore|disregard|forget|override|bypass|abandon|discard|set\ aside)\s+{_gap(4)}"
        r"(?:instructions?|rules|guidelines|directions|directives|prompts?|commands|guardrails|constraints"
        r"|restrictions|programming|system\ prompt)\b",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\s+(?:above|before\ this|previously"
        r"|you\ were\ told)",
        r"\b(?:ignore|disregard)\s+the\s+above\b",
        # de
        rf"\b(?:ignorier\w*|vergiss|vergessen|missacht\w*|übergeh\w*|überschreib\w*)\s+{_gap(4)}"
        r"(?:\w*anweisung(?:en)?|regeln|instruktionen|vorgaben|richtlinien|befehle|prompts?)\b",
        rf"\b(?:alle|sämtliche|deine|vorherig\w*|bisherig\w*)\s+{_gap(2)}(?:anweisungen|regeln|instruktionen|vorgaben)"
        rf"\s+{_gap(2)}(?:ignorieren|vergessen|missachten)\b",
        # fr
        rf"\b(?:ignore[zr]?|oublie[zr]?|néglige[zr]?|outrepasse[zr]?|contourne[zr]?|ne\ (?:tiens|tenez)\ pas\ compte"
        rf"|faites\ abstraction|fais\ abstraction)\s+{_gap(4)}(?:instructions?|règles|consignes|directives"
        rf"|commandes)\b",
        # es, pt, it
        rf"\b(?:ignora|ignore|ignoren|ignorar|ignorate|ignori|olvida|olvide|olviden|olvidar|omite|omita|descarta"
        rf"|descarte|esqueça|esqueca|esquece|esqueçam|esquecer|desconsidere|desconsidera|dimentica|dimentichi"
        rf"|dimenticate|trascura|haz\ caso\ omiso)\s+{_gap(4)}"
        r"(?:instrucciones|reglas|indicaciones|directrices|normas|instruções|instrucoes|regras|diretrizes"
        r"|orientações|istruzioni|regole|direttive|indicazioni)\b",
        # id, ms
        rf"\b(?:abaikan(?:lah)?|lupakan(?:lah)?|acuhkan|hiraukan)\s+{_gap(4)}(?:instruksi|perintah|aturan|arahan"
        r"|peraturan|petunjuk)\b",
        # vi
        rf"(?:bỏ\ qua|quên\ đi|quên|phớt\ lờ|lờ\ đi|bỏ\ ngoài\ tai)\s+{_gap(4)}(?:hướng\ dẫn|chỉ\ dẫn|chỉ\ thị|quy\ tắc"
        r"|mệnh\ lệnh|câu\ lệnh|lệnh)",
        # ru
        rf"(?<!\w)(?:игнорируй\w*|проигнорируй\w*|забудь\w*|отбрось\w*|не\ обращай\w*\ внимания\ на)\s+{_gap(4)}"
        r"(?:инструкци\w*|правил\w*|указани\w*|команд\w*|директив\w*|ограничени\w*)",
        # ar (folded: أ إ آ → ا, ى → ي, ة → ه)
        rf"(?:تجاهل\w*|انس|انسي|اهمل|تغاضي\ عن|تخط)\s+{_gap(3)}(?:ال)?(?:تعليمات|قواعد|اوامر|ارشادات|توجيهات|قيود)",
        # tr
        rf"(?:önceki|tüm|bütün|yukarıdaki|mevcut|sistem|ilk)\s+{_gap(2)}(?:talimat|kural|komut|yönerge)\w*\s+{_gap(2)}"
        r"(?:yok\ say|görmezden\ gel|unut|dikkate\ alma|umursama)",
        # th
        rf"(?:ลืม|เพิกเฉย(?:ต่อ)?|ไม่ต้องสนใจ|ละเลย|ไม่ต้องทำตาม|อย่าทำตาม){_near(6)}(?:คำสั่ง(?!ซื้อ)|คำแนะนำ|กฎ"
        rf"|ข้อกำหนด|ข้อบังคับ)",
        # ja
        rf"(?:これまで|今まで|以前|前|上記|先|最初|元|すべて|全て|全部|あらゆる|システム)の?{_near(6)}"
        rf"(?:指示|命令|ルール|規則|プロンプト|指令|制約){_near(8)}(?:無視|忘れ|破棄)",
        # zh
        rf"(?:忽略|无视|無視|忽视|忽視|忘记|忘記|忘掉|不要理会|不要理會|不要遵守|不再遵守|抛开|拋開){_near(8)}"
        r"(?:指令|指示|规则|規則|提示词|提示詞|命令|约束|約束|限制)",
        # ko
        rf"(?:이전|앞의|앞선|위의|모든|기존|원래|시스템){_near(10)}(?:지시|지침|규칙|명령|프롬프트){_near(8)}"
        r"(?:무시|잊어|잊고|잊으|따르지\s?마)",
    )),
    qualifier=_re(_alt(
        r"\b(?:all|every|your|previous|prior|above|earlier|preceding|former|foregoing|original|initial|system"
        r"|safety|existing)\b",
        r"\b(?:alle|sämtliche|jegliche|deine?[nmrs]?|eure|vorherig\w*|vorig\w*|bisherig\w*|obig\w*|früher\w*"
        r"|vorangegangen\w*|ursprünglich\w*|system\w*)\b",
        r"\b(?:tou(?:te)?s|tes|vos|précédent\w*|antérieur\w*|ci-dessus|initial\w*|d'origine|système)\b",
        r"\b(?:todas?|todos|tus|anteriores|previas|previos|iniciales|originales|sistema|tuas|suas|prévias|acima"
        r"|iniciais|originais|tutte|tutti|tue|precedenti|sopra|iniziali|originali)\b",
        r"\b(?:semua|sebelumnya|sebelum\ ini|di\ atas|tadi|anda|kamu|awak|sistem)\b|mu\b",
        r"tất\ cả|mọi|trước\ đó|trước|ở\ trên|phía\ trên|ban\ đầu|của\ bạn|hệ\ thống",
        r"(?<!\w)(?:все|всё|вс[еёя]\w*|предыдущ\w*|прежн\w*|свои|твои|ваши|выше|системн\w*|исходн\w*|изначальн\w*)",
        r"كل|جميع|السابقه|الماضيه|اعلاه|الاصليه|الخاصه\ بك|النظام",
        r"önceki|tüm|bütün|yukarıdaki|mevcut|sistem|ilk",
        r"ก่อนหน้า|ทั้งหมด|ข้างต้น|ข้างบน|เดิม|ของคุณ|ระบบ",
        r"これまで|今まで|以前|前|上記|先|最初|元|すべて|全て|全部|あらゆる|システム",
        r"之前|以前|先前|上面|上述|所有|全部|一切|你的|原来|原來|系统|系統|此前",
        r"이전|앞의|앞선|위의|모든|기존|원래|시스템",
    )),
    # "Vergessen Sie nicht alle Anweisungen zu lesen", "Não esqueça suas instruções": a reminder, not an attack.
    veto=_re(r"(?<!\w)(?:nicht|não|nao|no|non|ne|never|nunca|jamais|jangan|đừng|không)(?!\w)"),
)
_DO_NOT_FOLLOW = Rule("ignore previous instructions", _re(_alt(
    r"\b(?:do\ not|don't|stop|no\ longer)\s+(?:follow|obey)(?:ing)?\s+(?:your|the\ previous|any\ previous"
    r"|your\ previous"
    r"|the\ system)\s+(?:instructions|rules|guidelines|prompt)",
    r"\b(?:befolge|befolgen\ sie)\s+(?:deine|die\ vorherigen|ihre\ bisherigen)\s+(?:anweisungen|regeln)\s+nicht",
    r"\bno\ (?:sigas|siga)\s+(?:tus|las\ anteriores)\s+(?:instrucciones|reglas)",
    r"\bnão\ (?:siga|sigas)\s+(?:suas|tuas|as\ anteriores)\s+(?:instruções|regras)",
    r"(?<!\w)не\ (?:следуй|выполняй)\w*\s+(?:свои|твои|прежние|предыдущие)\s+(?:инструкци|правил)\w*",
    r"ไม่ต้องทำตามกฎ",
)))

# -- role change -----------------------------------------------------------------------------------------------------

_ROLE_CHANGE = Rule("role change", _re(_alt(
    _role_after(r"\b(?:you\ are\ now|you're\ now|you\ are\ no\ longer|you're\ no\ longer|from\ now\ on,?\ you(?:'re"
                r"|\ are"
                r"|\ will\ be|\ shall\ be)|du\ bist\ (?:jetzt|ab\ jetzt|ab\ sofort|nun|nicht\ mehr)|ab\ (?:jetzt"
                r"|sofort)"
                r"\ bist\ du|sie\ sind\ (?:jetzt|ab\ jetzt|ab\ sofort|nun|nicht\ mehr)|tu\ es\ (?:maintenant|désormais"
                r"|dorénavant|à\ présent)|vous\ êtes\ (?:maintenant|désormais|dorénavant|à\ présent)|tu\ n'es\ plus"
                r"|vous\ n'êtes\ plus|(?:ahora|desde\ ahora|a\ partir\ de\ ahora),?\ (?:eres|usted\ es|tú\ eres)"
                r"|ya\ no\ eres"
                r"|(?:agora|a\ partir\ de\ agora),?\ (?:você\ é|tu\ és|és)|você\ não\ é\ mais|(?:ora|adesso"
                r"|da\ ora\ in\ poi"
                r"|d'ora\ in\ poi),?\ sei|non\ sei\ più|(?:sekarang|mulai\ sekarang|mulai\ saat\ ini),?\ (?:kamu"
                r"|anda|engkau"
                r"|awak)(?:\ adalah|\ ialah)?|(?:kamu|anda|awak)\ sekarang(?:\ adalah|\ ialah)?|(?:kamu"
                r"|anda)\ bukan\ lagi)"),
    _role_after(r"(?:bây\ giờ\ bạn\ là|từ\ giờ\ bạn\ là|từ\ bây\ giờ(?:\ trở\ đi)?,?\ bạn\ (?:là|sẽ\ là)"
                r"|bạn\ không\ còn\ là)"),
    _role_after(r"(?<!\w)(?:(?:теперь|отныне|с\ этого\ момента),?\ (?:ты|вы)(?:\ теперь)?|(?:ты|вы)\ (?:теперь"
                r"|больше\ не))"),
    _role_after(r"(?:انت\ (?:الان|من\ الان)|من\ الان\ فصاعدا،?\ انت|لم\ تعد)"),
    _role_after(r"\b(?:act\ as|acting\ as|pretend\ (?:to\ be|you\ are|you're)|role-?play\ as|play\ the\ role\ of"
                r"|imagine\ you\ are|behave\ like|tu\ so,?\ als\ (?:wärst|seist)\ du|spiel\w*\ die\ rolle"
                r"|verhalte\ dich\ wie|fais\ semblant\ d'être|faites\ semblant\ d'être|jouez?\ le\ rôle\ d(?:e|'un"
                r"|'une)"
                r"|finge\ (?:ser|que\ eres)|actúa\ como|haz\ el\ papel\ de|finja\ (?:ser|que\ é)|aja\ como"
                r"|fingi\ di\ essere|comportati\ come|berpura-pura(?:lah)?\ (?:menjadi|sebagai)|hãy\ giả\ vờ\ là"
                r"|hãy\ đóng\ vai|притворись|притворитесь|сыграй\ роль|تظاهر\ بانك|تقمص\ دور|العب\ دور)", _PERSONA),
    rf"(?:artık|bundan\ sonra|şu\ andan\ itibaren|bundan\ böyle)\s+(?:sen\s+|siz\s+)?(?:{_W}\s+){{0,2}}"
    rf"{_ROLE}\w{{0,3}}s[ıiuü]n(?:[ıiuü]z)?\b",
    rf"(?:ตอนนี้คุณ(?:คือ|เป็น)|จากนี้ไปคุณ(?:คือ|เป็น)|ตั้งแต่นี้ไปคุณ(?:คือ|เป็น)){_near(8)}{_ROLE}",
    rf"(?:แกล้งทำเป็น|สวมบทบาท(?:เป็น)?){_near(8)}{_PERSONA}",
    rf"(?:あなた|君|きみ|お前)は(?:今から|これから|今日から|もう|今や|いまから){_near(8)}{_ROLE}",
    rf"(?:你现在是|你現在是|从现在(?:开始|起)[，,]?你(?:是|就是|将是)|從現在(?:開始|起)[，,]?你(?:是|就是)|你不再是){_near(12)}{_ROLE}",
    rf"(?:假装|假裝|扮演){_near(6)}{_PERSONA}",
    rf"(?:(?:너는|넌|당신은)\s?(?:이제|지금부터|앞으로)|(?:이제|지금부터)\s?(?:너는|넌|당신은)){_near(8)}{_ROLE}",
)))

# -- prompt extraction -----------------------------------------------------------------------------------------------

_SYSTEM_PROMPT = _alt(
    r"system\s?-?prompt", r"systemprompt", r"prompt\s+(?:du\s+)?système", r"prompt\s+del\s+sistema",
    r"prompt\s+do\s+sistema", r"prompt\s+di\s+sistema", r"prompt\s+sistem", r"lời\s+nhắc\s+hệ\s+thống",
    r"prompt\s+hệ\s+thống", r"sistem\s+istem\w*", r"системн\w*\s+промпт\w*", r"موجه\s+النظام", r"システムプロンプト",
    r"系统提示词?", r"系統提示詞?", r"시스템\s?프롬프트",
    r"พรอม[ตท]์ระบบ", r"(?:initial|hidden|secret|original)\s+prompt", r"developer\s+(?:message|prompt)",
)
_EXTRACTION = Rule("prompt extraction", _re(_alt(
    rf"(?<![\p{{L}}])(?:{_SYSTEM_PROMPT})",
    # repeat the text above
    r"\b(?:repeat|print|output|copy|recite|reproduce|write\ out|show|translate|summari[sz]e)\s+(?:back\s+)?"
    r"(?:everything|all\ the\ (?:text|words)|the\ (?:text|words|content|message|conversation|prompt|instructions))\s+"
    r"(?:(?:written|given)\s+)?(?:above|before\ this|preceding|so\ far)\b",
    r"\b(?:repeat|print|output|recite)\s+everything\s+(?:above|before|so\ far|you\ were\ told)",
    r"\bwhat\ (?:is|was)\ written\ (?:above|before\ this)",
    r"\bwhat\ (?:are|were)\ your\ (?:instructions|rules|guidelines|directives)",
    r"\b(?:your|the)\s+(?:instructions|prompt|rules)\b[^.!?\n]{0,30}\b(?:verbatim|word\ for\ word)",
    rf"\b(?:reveal|print|show|output|display|repeat|recite|tell\ me|give\ me|share|leak|disclose|write\ out|dump"
    rf"|translate|spell\ out|paste)\s+(?:me\s+)?(?:all\s+(?:of\s+)?)?your\s+{_gap(2)}(?:instructions|rules|guidelines"
    r"|configuration|directives)\b",
    r"\btranslate\b[^.!?\n]{0,60}\b(?:and|then)\s+(?:do\ what\ it\ says|execute\ it|obey\ it|follow\ it)",
    # de fr es pt it
    rf"\b(?:zeig\w*|gib|nenne\w*|verrat\w*|wiederhol\w*|druck\w*|übersetz\w*)\s+(?:mir\s+)?{_gap(2)}"
    r"(?:deine[nmrs]?|ihre)\s+(?:\w+\s+)?(?:anweisungen|regeln|vorgaben|instruktionen)\b",
    r"\bwiederhol\w*\s+(?:den\s+)?(?:text|inhalt|wortlaut|alles)\s+(?:von\s+)?(?:oben|darüber|davor|bisher)\b",
    r"\b(?:révèle|révélez|affiche|affichez|montre|montrez|répète|répétez|donne|donnez|imprime|traduis|traduisez"
    r"|récite)[\s-]+(?:moi\s+)?(?:tes|vos|ton|votre)\s+(?:\w+\s+)?(?:instructions|règles|consignes)\b",
    r"\b(?:répète|répétez|recopie|recopiez|réécris)\s+(?:tout\s+)?(?:le\s+)?(?:texte|contenu|message)\s+"
    r"(?:ci-dessus|au-dessus|précédent)",
    r"\b(?:revela|revele|muestra|muestre|muéstrame|repite|repita|imprime|dime|dame|traduce|recita|mostre|mostra"
    r"|repete|imprima|diga|traduza|rivela|mostrami|ripeti|stampa|dimmi|traduci)\s+(?:me\s+)?(?:tus|tu|suas|tuas"
    r"|seu|teu|le\ tue|tue|il\ tuo)\s+(?:\w+\s+)?(?:instrucciones|reglas|indicaciones|instruções|regras|diretrizes"
    r"|istruzioni|regole)\b",
    r"\b(?:repite|repita|copia|reproduce|repete|ripeti)\s+(?:todo\s+|tutto\s+)?(?:el\s+|o\s+|il\s+)?(?:texto|contenido"
    r"|mensaje|conteúdo|mensagem|testo)\s+(?:de\s+|qui\s+)?(?:arriba|anterior|acima|sopra)\b",
    # id ms vi
    rf"\b(?:tampilkan|tunjukkan|ulangi|cetak|beritahu|sebutkan|terjemahkan|tuliskan|bocorkan)\s+{_gap(2)}"
    r"(?:instruksi|aturan|perintah|arahan)\s+(?:\w+\s+)?(?:sistem|anda|kamu|awal|asli|tersembunyi|rahasia)\b",
    r"\bulangi(?:lah)?\s+(?:semua\s+)?(?:teks|tulisan|kata-kata|isi)\s+(?:yang\s+)?(?:di\s+)?atas\b",
    rf"(?:tiết\ lộ|hiển\ thị|cho\ tôi\ xem|lặp\ lại|in\ ra|nhắc\ lại)\s+{_gap(3)}(?:hướng\ dẫn|chỉ\ thị|quy\ tắc"
    r"|lời\ nhắc)\s+(?:hệ\ thống|của\ bạn|ban\ đầu|gốc|ẩn|bí\ mật)",
    r"(?:lặp\ lại|nhắc\ lại|in\ ra|chép\ lại)\s+(?:toàn\ bộ\s+)?(?:văn\ bản|nội\ dung|đoạn\ văn)\s+(?:\w+\s+)?"
    r"(?:ở\ trên|phía\ trên|bên\ trên)",
    # ru ar tr
    r"(?<!\w)(?:покажи|выведи|раскрой|повтори|напечатай|переведи|расскажи|назови)(?:те)?\s+(?:мне\s+)?(?:свои|твои"
    r"|ваши|свой|твой|ваш|скрыт\w*|исходн\w*)\s+(?:\w+\s+)?(?:инструкци\w*|правил\w*|промпт\w*|указани\w*)",
    r"(?<!\w)повтори(?:те)?\s+(?:весь\s+|всё\s+|все\s+)?(?:текст|сообщение|написанное)\s*(?:выше|сверху)",
    r"(?:اكشف|اظهر|اعرض|اطبع|كرر|اخبرني|قل\ لي|ترجم)\s+(?:\w+\s+)?(?:تعليماتك|قواعدك|اوامرك|التعليمات\ الاصليه"
    r"|التعليمات\ المخفيه)",
    r"كرر\s+(?:كل\s+)?(?:النص|الكلام|المحتوي|ما\ كتب)\s+(?:\w+\s+)?(?:اعلاه|بالاعلي|في\ الاعلي)",
    r"(?:senin\s+|gizli\s+|ilk\s+|orijinal\s+)(?:sistem\s+)?(?:talimatlarını|kurallarını|istemini)\s+(?:\w+\s+)?"
    r"(?:göster|yazdır|tekrarla|söyle|paylaş|çevir)",
    r"yukarıdaki\s+(?:metni|yazıyı|içeriği|talimatları)\s+(?:\w+\s+)?(?:tekrarla|yazdır|göster|çevir)",
    # th ja zh ko
    r"(?:พูดซ้ำ|ทวน|พิมพ์ซ้ำ)[^.!?\n]{0,6}?ข้อความ[^.!?\n]{0,4}?(?:ข้างบน|ด้านบน|ข้างต้น|ก่อนหน้า)",
    r"(?:แสดง|เปิดเผย|บอก)[^.!?\n]{0,6}?(?:คำสั่ง(?!ซื้อ)|กฎ)(?:ระบบ|ของคุณ)",
    r"(?:上記|上|これまで|以上)の(?:文章|テキスト|内容|指示|文|プロンプト)を(?:そのまま)?(?:繰り返|復唱|出力|書き出)",
    r"(?:あなたの|君の)(?:指示|ルール|設定|プロンプト|命令)を(?:教え|表示|出力|見せ|繰り返|書き出)",
    r"(?:重复|重複|复述|複述|输出|輸出|打印|翻译|翻譯)(?:一下)?(?:上面|上述|以上|前面)的?(?:文字|内容|內容|文本|指令|提示|话|話)",
    r"(?:告诉我|告訴我|显示|顯示|输出|輸出|透露|泄露|洩露|展示|说出|說出)(?:一下)?你的(?:指令|指示|规则|規則|提示|设定|設定)",
    r"(?:위의|위|이전)\s?(?:텍스트|글|내용|문장|지시)(?:을|를)?\s?(?:그대로\s?)?(?:반복|출력|복사|번역)",
    r"(?:너의|당신의|네)\s?(?:지시|지침|규칙|프롬프트|설정)(?:을|를)?\s?(?:보여|알려|출력|공개)",
)))

# -- addressed to the assistant --------------------------------------------------------------------------------------

_ADDRESSED = Rule("addressed to the assistant", _re(_alt(
    rf"\b(?:instructions?|note|directive|command|attention|memo)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+|our\s+"
    rf"|this\s+)?{_ASSISTANT}s?\b",
    rf"\b(?:if|when)\s+you\s+are\s+(?:an?|the)\s+{_AI}\b",
    rf"\b(?:dear|hey|hello)\s+{_AI}\b",
    rf"\b(?:any|all|every)\s+{_AI}s?\s+reading\s+this\b",
    rf"\b(?:anweisung|hinweis|notiz|befehl)(?:en)?\s+(?:an|für)\s+(?:den|die|das|alle)?\s*{_ASSISTANT}\b",
    rf"\b(?:wenn|falls)\s+du\s+(?:eine?\s+)?{_AI}\s+bist\b",
    rf"\b(?:instructions?|note|consignes?|directive|remarque)\s+(?:à|pour|destinées?\s+à)\s+(?:l'|l’|la\s+|le\s+"
    rf"|les\s+)?{_ASSISTANT}\b",
    rf"\bsi\s+(?:tu\s+es|vous\s+êtes)\s+(?:une?\s+)?{_AI}\b",
    rf"\b(?:instrucci[oó]n|instrucciones|nota|orden|instru[cç][aã]o|instru[cç][oõ]es|istruzion[ei]|direttiva|ordine)"
    rf"\s+(?:para|al|a\s+la|ao|à|per|all'|alla)\s*(?:el\s+|la\s+|o\s+|a\s+|l'|il\s+)?{_ASSISTANT}\b",
    rf"\b(?:si\s+(?:eres|usted\s+es)|se\s+(?:você\s+é|tu\s+és|sei))\s+(?:una?\s+|uma?\s+|un'\s*)?{_AI}\b",
    rf"\b(?:instruksi|perintah|arahan|catatan)\s+(?:untuk|kepada|bagi)\s+(?:para\s+)?{_ASSISTANT}\b",
    rf"\bjika\s+(?:kamu|anda|awak)\s+(?:adalah\s+|ialah\s+)?(?:sebuah\s+)?{_AI}\b",
    rf"(?:chỉ\ thị|lệnh|ghi\ chú)\s+(?:cho|dành\ cho|gửi)\s+(?:các\s+)?{_ASSISTANT}",
    rf"nếu\s+bạn\s+là\s+(?:một\s+)?{_AI}",
    rf"(?<!\w)(?:инструкци[яи]|указани[ея]|команда|примечание)\s+(?:для|к)\s+{_ASSISTANT}",
    rf"(?<!\w)если\s+(?:ты|вы)\s+{_AI}",
    rf"(?:تعليمات|تعليمه|امر|ملاحظه|توجيه)\s+(?:الي|ل|لل)\s*{_ASSISTANT}",
    rf"اذا\s+كنت\s+{_AI}",
    rf"(?:คำสั่ง|หมายเหตุ)(?:ถึง|สำหรับ){_ASSISTANT}",
    rf"ถ้าคุณเป็น{_AI}",
    rf"(?:もし)?あなたが{_AI}(?:なら|であれば|の場合)",
    rf"(?:给|給|致)(?:{_ASSISTANT})的?(?:指令|指示|命令|提示)",
    rf"(?:如果|若)你是(?:一个|一個)?{_AI}",
    rf"(?:만약\s?)?(?:당신이|너가|네가)\s?{_AI}(?:라면|이라면)",
)))

# Phrases that end in a role or an addressee (Japanese, Korean, Turkish word order): only run where their ending is.
_ROLE_CHANGE_LAST = Rule("role change", _re(_alt(
    rf"{_PERSONA}{_near(4)}(?:になりきって|のふりをして|として振る舞|を演じて)",
    rf"{_PERSONA}{_near(4)}(?:인\s?척|역할)",
)), gate=("になりきって", "のふりをして", "として振る舞", "を演じて", "척", "역할"))
_ADDRESSED_LAST = Rule("addressed to the assistant", _re(_alt(
    rf"{_ASSISTANT}(?:'?(?:ya|ye|a|e))?\s+(?:talimat|komut|yönerge)",
    rf"(?:eğer\s+)?(?:bir\s+)?{_AI}\s*(?:isen|iseniz|ysan|ysen)\b",
    rf"{_ASSISTANT}(?:への|に対する|向けの?)(?:指示|命令|指令|メモ)",
    rf"{_ASSISTANT}\s?(?:에게|를\s?위한)\s?(?:지시|명령|지침|메모)",
)), gate=("talimat", "komut", "yönerge", "isen", "ysan", "ysen", "への", "に対する", "向け", "에게", "위한"))

RULES = (_IGNORE, _DO_NOT_FOLLOW, _ROLE_CHANGE, _ROLE_CHANGE_LAST, _EXTRACTION, _ADDRESSED, _ADDRESSED_LAST)
