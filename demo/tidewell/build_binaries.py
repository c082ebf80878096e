"""Build the binary files of the Tidewell demo knowledge from the text kept here.

Writes:
    knowledge/products/drift-40l-manual.pdf       English manual for TW-4417 (fpdf2)
    knowledge/products/harbor-spinner-pflege.docx  German care & warranty guide for TW-2210 (python-docx)
    knowledge/faq/wholesale.xlsx                   Wholesale / bulk FAQ in several languages (openpyxl)

The output is deterministic: creation dates and other metadata are fixed, and
the ZIP containers of the .docx and .xlsx are rewritten with fixed timestamps,
so running the script twice yields identical bytes (with the same library
versions).

Run from the repository root:
    .venv/bin/python demo/tidewell/build_binaries.py
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRODUCTS = HERE / "knowledge" / "products"
FAQ = HERE / "knowledge" / "faq"

FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
AUTHOR = "Tidewell Customer Care"


# --------------------------------------------------------------------------
# ZIP normalisation (docx and xlsx are ZIP packages)
# --------------------------------------------------------------------------

def _normalize_zip(path: Path, patch: dict[str, callable] | None = None) -> None:
    """Rewrite a ZIP package with fixed timestamps and attributes, entries in original order."""
    patch = patch or {}
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for name, data in entries:
            if name in patch:
                data = patch[name](data)
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            dst.writestr(info, data, compresslevel=9)
    path.write_bytes(buf.getvalue())


def _fix_core_dates(data: bytes) -> bytes:
    """Pin dcterms:created / dcterms:modified in docProps/core.xml."""
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    for tag in (b"dcterms:created", b"dcterms:modified"):
        data = re.sub(rb"(<" + tag + rb"[^>]*>)[^<]*(</" + tag + rb">)", rb"\g<1>" + stamp + rb"\g<2>", data)
    return data


# --------------------------------------------------------------------------
# 1. Drift 40L manual (PDF, English; core Helvetica is Latin-1 only: keep ASCII)
# --------------------------------------------------------------------------

DRIFT_TITLE = "Drift 40L Carry-on Backpack"
DRIFT_CODE = "TW-4417"

DRIFT_INTRO = (
    "Thank you for choosing the Tidewell Drift 40L. It was designed to be the only bag you need for a "
    "long weekend or a week of business travel: it fits the 55 x 40 x 20 cm cabin limits of most "
    "airlines, opens flat like a suitcase and carries comfortably on your back through stations, "
    "airports and old-town streets. Please read this manual before your first trip and keep it for "
    "future reference."
)

DRIFT_SPECS = [
    ("Product code", "TW-4417"),
    ("Capacity", "40 litres"),
    ("External dimensions", "55 x 40 x 20 cm (fits 55 x 40 x 20 cm cabin limits)"),
    ("Weight", "1.2 kg"),
    ("Main fabric", "420D recycled nylon, PU-coated, water-repellent finish"),
    ("Laptop sleeve", "Padded, suspended, for laptops up to 16 inches"),
    ("Zippers", "Lockable main compartment zippers, lifetime warranty"),
    ("Carry system", "Padded shoulder straps, sternum strap, stowable hip belt"),
    ("Extras", "Luggage pass-through, front quick-access pocket, 2 side bottle pockets"),
    ("Warranty", "2 years on the backpack + lifetime warranty on zippers"),
]

DRIFT_PARTS = [
    ("A", "Top grab handle and side handle (for carrying it like a briefcase)"),
    ("B", "Front quick-access pocket for passport, boarding pass and phone"),
    ("C", "Clamshell main compartment with two zipped mesh panels"),
    ("D", "Padded laptop sleeve (up to 16 inches), accessible from the back panel"),
    ("E", "Stowable hip belt, hidden behind the back panel"),
    ("F", "Luggage pass-through strap to slide the bag over a suitcase handle"),
    ("G", "Lockable zipper pullers (use a TSA-approved padlock)"),
]

DRIFT_PACKING = [
    "Lay the bag flat and open the main compartment fully (clamshell). Pack the heaviest items, such "
    "as shoes and a toiletry kit, on the back-panel side so the weight sits close to your spine.",
    "Use packing cubes: the Tidewell Packing Cube Set (TW-3105) fits the main compartment exactly - "
    "the L cube on the bottom, the M cube on top and the S cube in the lid panel.",
    "Roll T-shirts and trousers instead of folding them. Rolled clothes take less room and crease less.",
    "Keep liquids in a clear 1-litre bag in the front quick-access pocket so you can take it out at "
    "security without opening the whole bag.",
    "Slide your laptop into the sleeve last. The sleeve is suspended 2 cm above the bottom of the bag "
    "to protect the laptop if you put the bag down hard.",
    "Before boarding, tighten the compression straps and tuck in the hip belt. The bag then keeps "
    "its 55 x 40 x 20 cm shape and fits the airline sizer.",
    "Do not exceed 10 kg in total. Many airlines limit cabin bags to 7-10 kg; check your ticket.",
]

DRIFT_CARE = [
    "Empty all pockets and shake out crumbs and sand.",
    "Spot-clean with a soft brush, lukewarm water and a mild soap. Do not use bleach or solvents.",
    "Never machine-wash or tumble-dry the backpack: it damages the coating and the padding.",
    "Let the bag air-dry fully, open and upside down, away from direct heat and sunlight.",
    "If a zipper becomes stiff, clean the teeth with a dry toothbrush and apply a little zipper wax "
    "or a graphite pencil.",
    "Store the bag empty and loosely stuffed with paper in a dry place, not in its dust bag while damp.",
]

DRIFT_WARRANTY = (
    "Every Tidewell product comes with a 2-year warranty against defects in materials and "
    "workmanship from the date of delivery. In addition, the zippers of the Drift 40L carry a "
    "lifetime warranty: if a zipper or slider ever fails in normal use, we repair or replace it free "
    "of charge, for as long as you own the bag. The warranty does not cover normal wear and tear "
    "(for example faded colours or abraded fabric), damage caused by airlines, accidents, "
    "improper use or unauthorised repairs. To make a claim, e-mail support@tidewell.example with "
    "your order number (for example TW-ORD-2026-004512), a short description and photos of the "
    "problem. Your statutory rights are not affected."
)

DRIFT_TROUBLESHOOTING = [
    ("The bag does not fit the airline sizer.",
     "Empty the front pocket, tighten both compression straps and tuck the hip belt behind the back "
     "panel. Over-filled side bottle pockets also add width."),
    ("A zipper slider has come off one side of the track.",
     "Do not force it. Open the zipper completely to the end stop and guide the slider back over both "
     "tracks. If a tooth is damaged, contact us: zippers are covered for life."),
    ("The laptop sleeve feels too tight.",
     "The sleeve fits laptops up to 16 inches without a case. Remove any bulky sleeve or keyboard "
     "cover, or use a slim case."),
    ("The shoulder straps dig in when the bag is full.",
     "Loosen the straps, then fasten and tighten the hip belt first so the weight sits on your hips, "
     "then re-tighten the shoulder straps and close the sternum strap."),
    ("The bag smells musty after a trip.",
     "It was stored damp. Air it out fully open for 24 hours, wipe the lining with a mix of water and "
     "a little white vinegar, and let it dry completely."),
    ("The hip belt is missing.",
     "It is stowed behind the back panel. Open the hook-and-loop flap at the bottom of the back panel "
     "and pull both wings out."),
]

DRIFT_CONTACT = (
    "Questions, warranty claims or spare parts: support@tidewell.example. For orders of 50 units or "
    "more (teams, events, corporate gifts) please contact b2b@tidewell.example. "
    "www.tidewell.example"
)


def build_pdf(path: Path) -> None:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class Manual(FPDF):
        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, f"Tidewell {DRIFT_TITLE} ({DRIFT_CODE}) - User manual",
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = Manual(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(f"{DRIFT_TITLE} ({DRIFT_CODE}) - User manual")
    pdf.set_author(AUTHOR)
    pdf.set_subject("Specifications, packing tips, care, warranty and troubleshooting")
    pdf.set_keywords("Tidewell TW-4417 Drift 40L backpack manual warranty care")
    pdf.set_creator("Tidewell demo build_binaries.py")
    pdf.set_lang("en")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)

    def h1(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 14)
        pdf.set_text_color(18, 72, 107)
        pdf.cell(0, 9, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1)

    def para(text: str) -> None:
        pdf.set_font("Helvetica", "", 10.5)
        pdf.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    def bullets(items: list[str] | list[tuple[str, str]], numbered: bool = False) -> None:
        pdf.set_font("Helvetica", "", 10.5)
        for i, item in enumerate(items, 1):
            if isinstance(item, tuple):
                mark, item = item
            else:
                mark = f"{i}." if numbered else "-"
            pdf.cell(7, 5.5, mark)
            pdf.multi_cell(0, 5.5, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(0.8)
        pdf.ln(1)

    # Page 1: title, introduction, specifications, parts
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 24)
    pdf.set_text_color(18, 72, 107)
    pdf.cell(0, 14, "TIDEWELL", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_text_color(0, 0, 0)
    pdf.cell(0, 10, DRIFT_TITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 7, f"Model {DRIFT_CODE}  |  User manual  |  Edition 01/2026",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    para(DRIFT_INTRO)

    h1("1. Specifications")
    pdf.set_font("Helvetica", "", 10)
    with pdf.table(col_widths=(45, 129), text_align=("LEFT", "LEFT"), line_height=6) as table:
        head = table.row()
        head.cell("Feature")
        head.cell("Details")
        for key, value in DRIFT_SPECS:
            row = table.row()
            row.cell(key)
            row.cell(value)
    pdf.ln(2)

    h1("2. Parts of your backpack")
    bullets(DRIFT_PARTS)

    # Page 2: packing and care
    pdf.add_page()
    h1("3. Packing tips")
    bullets(DRIFT_PACKING, numbered=True)
    h1("4. Care and cleaning")
    bullets(DRIFT_CARE)

    # Page 3: warranty, troubleshooting, contact
    pdf.add_page()
    h1("5. Warranty")
    para(DRIFT_WARRANTY)
    h1("6. Troubleshooting")
    for problem, solution in DRIFT_TROUBLESHOOTING:
        pdf.set_font("Helvetica", "B", 10.5)
        pdf.multi_cell(0, 5.5, f"Problem: {problem}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "", 10.5)
        pdf.multi_cell(0, 5.5, f"Solution: {solution}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    h1("7. Contact")
    para(DRIFT_CONTACT)

    pdf.output(str(path))


# --------------------------------------------------------------------------
# 2. Harbor Spinner care & warranty guide (DOCX, German)
# --------------------------------------------------------------------------

HARBOR_TITLE = "Harbor Hardside Spinner 55 (TW-2210) – Pflege- und Garantiehinweise"

HARBOR_INTRO = (
    "Mit dem Harbor Hardside Spinner 55 hast du einen robusten Begleiter für Kurztrips und "
    "Geschäftsreisen gewählt. Die Schale aus Polycarbonat ist leicht, flexibel und schlagfest, die "
    "vier Doppelrollen drehen sich um 360 Grad, und das integrierte TSA-Schloss sorgt dafür, dass "
    "dein Koffer bei Kontrollen in den USA nicht aufgebrochen werden muss. Mit ein wenig Pflege "
    "begleitet er dich viele Jahre – deshalb geben wir auf die Schale 10 Jahre Garantie."
)

HARBOR_DIMENSIONS = [
    ("Außenmaße (inkl. Rollen und Griff)", "55 × 40 × 23 cm"),
    ("Innenmaße", "51 × 37 × 21 cm"),
    ("Volumen", "38 Liter"),
    ("Gewicht", "2,9 kg"),
    ("Griffhöhe ausgezogen", "101 cm"),
    ("Material Schale", "Polycarbonat"),
]

HARBOR_TSA_STEPS = [
    "Im Auslieferungszustand ist die Kombination 0-0-0 eingestellt.",
    "Stelle die Ziffern auf 0-0-0 und drücke den Einstellknopf an der Seite des Schlosses mit einem "
    "Kugelschreiber hinein.",
    "Halte den Knopf gedrückt und stelle deine neue dreistellige Kombination ein.",
    "Lass den Knopf los. Notiere dir die Kombination und bewahre sie getrennt vom Koffer auf.",
    "Das rote Symbol im Schloss zeigt an, dass die Sicherheitsbehörde den Koffer mit dem "
    "TSA-Generalschlüssel geöffnet hat.",
]

HARBOR_CARE_SHELL = [
    "Wische die Schale mit einem weichen, feuchten Tuch und etwas milder Seifenlauge ab.",
    "Verwende keine Scheuermittel, Lösungsmittel oder Alkohol – sie machen die Oberfläche matt.",
    "Leichte Kratzer gehören zum Reisen dazu; auf der strukturierten Oberfläche fallen sie kaum auf.",
    "Eine eingedrückte Stelle drückst du bei Raumtemperatur vorsichtig von innen wieder heraus: "
    "Polycarbonat ist flexibel und federt zurück.",
]

HARBOR_CARE_WHEELS = [
    "Entferne Haare und Fusseln regelmäßig aus den Rollenachsen.",
    "Nach Reisen an den Strand: Sand mit einem trockenen Pinsel ausbürsten, nicht mit Wasser ausspülen.",
    "Ziehe den Teleskopgriff nur am Griffstück aus und schiebe ihn vor dem Einchecken ganz ein.",
    "Rollen und Teleskopgriff können bei Bedarf als Ersatzteil getauscht werden.",
]

HARBOR_STORAGE = [
    "Lagere den Koffer leer, trocken und geöffnet, damit sich keine Gerüche bilden.",
    "Stelle nichts Schweres auf den Koffer und lagere ihn nicht neben Heizkörpern.",
    "Nutze die mitgelieferte Staubschutzhülle, wenn du den Koffer länger nicht verwendest.",
]

HARBOR_WARRANTY = [
    ("2 Jahre Garantie auf den gesamten Koffer",
     "Für alle Tidewell-Produkte gilt eine Garantie von 2 Jahren ab Lieferung auf Material- und "
     "Verarbeitungsfehler, z. B. an Rollen, Griffen, Reißverschluss und TSA-Schloss."),
    ("10 Jahre Garantie auf die Schale",
     "Bricht oder reißt die Polycarbonat-Schale bei normalem Gebrauch, reparieren oder ersetzen wir "
     "sie innerhalb von 10 Jahren kostenlos."),
    ("Nicht abgedeckt",
     "Normale Gebrauchsspuren wie Kratzer und Schrammen, Schäden durch Fluggesellschaften, "
     "Unfälle, unsachgemäße Nutzung oder Reparaturen durch Dritte. Schäden durch die "
     "Fluggesellschaft meldest du bitte direkt am Flughafen (Property Irregularity Report)."),
]

HARBOR_CLAIM_STEPS = [
    "Schreib eine E-Mail an support@tidewell.example (Mo–Fr 8–18 Uhr).",
    "Gib deine Bestellnummer an, z. B. TW-ORD-2026-004512.",
    "Füge zwei bis drei Fotos des Schadens und ein Foto des Typenschilds im Innenfutter bei.",
    "Wir melden uns innerhalb eines Werktages. Für die Einsendung bekommst du ein kostenloses "
    "DHL-Label.",
]

HARBOR_NOTE = (
    "Deine gesetzlichen Gewährleistungsrechte bleiben von dieser Garantie unberührt. Für Bestellungen "
    "ab 50 Stück (z. B. für Teams oder Firmenveranstaltungen) wende dich bitte an b2b@tidewell.example."
)


def build_docx(path: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.title = HARBOR_TITLE
    props.subject = "Pflege, TSA-Schloss, Maße und Garantie"
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.keywords = "Tidewell, TW-2210, Harbor, Koffer, Pflege, Garantie"
    props.language = "de-DE"
    props.category = "Produktpflege"
    props.comments = "Tidewell Demo-Wissensbasis"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

    doc.add_heading(HARBOR_TITLE, level=0)
    doc.add_paragraph(HARBOR_INTRO)

    doc.add_heading("Maße und technische Daten", level=1)
    table = doc.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    hdr = table.rows[0].cells
    hdr[0].text = "Merkmal"
    hdr[1].text = "Wert"
    for cell in hdr:
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for key, value in HARBOR_DIMENSIONS:
        cells = table.add_row().cells
        cells[0].text = key
        cells[1].text = value
    doc.add_paragraph(
        "Mit 55 × 40 × 23 cm entspricht der Koffer den Handgepäckmaßen vieler Fluggesellschaften. "
        "Prüfe vor dem Flug trotzdem die Vorgaben deiner Airline."
    )

    doc.add_heading("TSA-Schloss einstellen", level=1)
    for step in HARBOR_TSA_STEPS:
        doc.add_paragraph(step, style="List Number")

    doc.add_heading("Pflege", level=1)
    doc.add_heading("Schale reinigen", level=2)
    for item in HARBOR_CARE_SHELL:
        doc.add_paragraph(item, style="List Bullet")
    doc.add_heading("Rollen und Teleskopgriff", level=2)
    for item in HARBOR_CARE_WHEELS:
        doc.add_paragraph(item, style="List Bullet")
    doc.add_heading("Aufbewahrung", level=2)
    for item in HARBOR_STORAGE:
        doc.add_paragraph(item, style="List Bullet")

    doc.add_heading("Garantie", level=1)
    for heading, text in HARBOR_WARRANTY:
        doc.add_heading(heading, level=2)
        doc.add_paragraph(text)
    doc.add_heading("So meldest du einen Garantiefall", level=2)
    for step in HARBOR_CLAIM_STEPS:
        doc.add_paragraph(step, style="List Number")
    doc.add_paragraph(HARBOR_NOTE)

    doc.save(str(path))
    _normalize_zip(path, {"docProps/core.xml": _fix_core_dates})


# --------------------------------------------------------------------------
# 3. Wholesale FAQ (XLSX, several languages)
# --------------------------------------------------------------------------

WHOLESALE_HEADER = ("Question", "Answer", "Market", "Language")

WHOLESALE_ROWS = [
    ("Do you offer wholesale or bulk pricing?",
     "Yes. Orders of 50 units or more are handled by our B2B team at b2b@tidewell.example. "
     "Volume discounts are 15% off retail for 50–199 units and 25% for 200 units or more. "
     "We send a quote within 2 business days.",
     "US", "en"),
    ("Can you put our company logo on the backpacks?",
     "Yes, from 100 units. We embroider the Drift 40L backpack, the packing cubes and the tech "
     "organizer, laser-engrave the Thermo Flask and add a printed name plate to the Harbor spinner. "
     "Custom orders take 4–6 weeks; write to b2b@tidewell.example with your logo and quantities.",
     "UK", "en"),
    ("Ab welcher Menge gilt eine Bestellung als Großbestellung?",
     "Ab 50 Stück. Solche Bestellungen laufen über unser B2B-Team (b2b@tidewell.example). Du erhältst "
     "15 % Rabatt auf den Verkaufspreis bei 50–199 Stück und 25 % ab 200 Stück; ein Angebot bekommst "
     "du innerhalb von 2 Werktagen.",
     "DE", "de"),
    ("Kann mein Unternehmen auf Rechnung bezahlen?",
     "Ja. Nach einer kurzen Bonitätsprüfung bieten wir Firmenkunden Zahlung per Überweisung mit "
     "30 Tagen Zahlungsziel an. Schreib dazu an b2b@tidewell.example.",
     "DE", "de"),
    ("Proposez-vous des cadeaux d'entreprise personnalisés ?",
     "Oui, à partir de 100 pièces : broderie sur le sac Drift 40L, les cubes de rangement et la "
     "trousse tech, gravure laser sur la gourde Thermo Flask. Comptez 4 à 6 semaines de délai. "
     "Contactez b2b@tidewell.example.",
     "FR", "fr"),
    ("¿Puedo pedir muestras antes de hacer un pedido grande?",
     "Sí, puedes pedir hasta 3 unidades de muestra a precio de venta al público; te descontamos su "
     "importe del pedido al por mayor. Escríbenos a b2b@tidewell.example.",
     "ES", "es"),
    ("¿Cuánto tarda un pedido de mayoreo?",
     "Los productos en stock sin personalizar salen en 5 a 10 días hábiles; con logo, de 4 a 6 "
     "semanas. Los pedidos de 50 piezas o más se gestionan con b2b@tidewell.example.",
     "MX", "es"),
    ("Vocês vendem no atacado para empresas?",
     "Sim. Pedidos a partir de 50 unidades são atendidos pelo time B2B (b2b@tidewell.example), com "
     "15% de desconto de 50 a 199 unidades e 25% a partir de 200. Respondemos o orçamento em até 2 "
     "dias úteis.",
     "BR", "pt"),
    ("法人向けにまとめ買いはできますか？",
     "はい、50点以上のご注文は法人窓口（b2b@tidewell.example）で承ります。50〜199点は販売価格の15％引き、"
     "200点以上は25％引きです。2営業日以内にお見積もりをお送りします。",
     "JP", "ja"),
    ("可以訂製印有公司 Logo 的保溫瓶嗎？",
     "可以，100 件起即可在 Thermo Flask 750 ml 上雷射雕刻 Logo，製作時間約 4–6 週。請來信 "
     "b2b@tidewell.example 並附上 Logo 檔案與數量。",
     "TW", "zh-Hant"),
    ("Bisakah saya membeli grosir untuk suvenir kantor?",
     "Bisa. Pembelian minimal 50 unit dilayani tim B2B kami di b2b@tidewell.example, dengan diskon "
     "15% untuk 50–199 unit dan 25% untuk 200 unit ke atas.",
     "ID", "id"),
    ("هل يمكن طلب كميات كبيرة لهدايا الشركات؟",
     "نعم، الطلبات من 50 قطعة فأكثر يتولاها فريق B2B عبر b2b@tidewell.example، مع خصم 15% من 50 إلى "
     "199 قطعة و25% من 200 قطعة فأكثر. ويمكن إضافة شعار شركتك بدءًا من 100 قطعة خلال 4–6 أسابيع.",
     "SA", "ar"),
]


def build_xlsx(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "FAQ"
    ws.append(WHOLESALE_HEADER)
    for row in WHOLESALE_ROWS:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="12486B")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCD", (45, 90, 10, 10), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"

    wb.properties.creator = AUTHOR
    wb.properties.lastModifiedBy = AUTHOR
    wb.properties.title = "Tidewell wholesale and bulk order FAQ"
    wb.properties.created = FIXED_DATE.replace(tzinfo=None)
    wb.properties.modified = FIXED_DATE.replace(tzinfo=None)
    wb.save(str(path))
    # openpyxl stamps "modified" with the current time on save: pin it again.
    _normalize_zip(path, {"docProps/core.xml": _fix_core_dates})


def main() -> None:
    PRODUCTS.mkdir(parents=True, exist_ok=True)
    FAQ.mkdir(parents=True, exist_ok=True)
    targets = [
        (build_pdf, PRODUCTS / "drift-40l-manual.pdf"),
        (build_docx, PRODUCTS / "harbor-spinner-pflege.docx"),
        (build_xlsx, FAQ / "wholesale.xlsx"),
    ]
    for build, path in targets:
        build(path)
        print(f"wrote {path.relative_to(HERE)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
