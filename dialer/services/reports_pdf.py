"""PDF reports (SPEC G6) with fpdf2 and the vendored DejaVu font (Cyrillic needs an embedded Unicode font): the
report with its filters printed, the call list (capped), and the printable daily shift summary — KPIs, a
histogram by hour drawn with rectangles in the six outcome colours, the operators table."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from fpdf import FPDF
from fpdf.fonts import FontFace

from ..outcomes import ORDER
from .reports_export import FONT_DIR, PDF_MAX_CALLS, Col, call_row, describe, report_tables, shown
from .reports import Filter

FONT = "DejaVu"


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _ru(lang: str, ru: str, en: str) -> str:
    return ru if lang == "ru" else en


def new_pdf(title: str, flt: Filter, lang: str, zone_note: bool = True) -> FPDF:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.set_creator("Dialer")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8)
    made = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
    for label, value in describe(flt, lang):
        pdf.set_font(FONT, "B", 8)
        pdf.cell(28, 4.5, label + ":")
        pdf.set_font(FONT, "", 8)
        pdf.multi_cell(0, 4.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(110, 119, 133)
    pdf.cell(0, 4.5, _ru(lang, f"Сформирован {made}. Звонок входит в период, в котором он завершился; дни и часы — "
                               f"по часовому поясу установки ({flt.zone}).",
                         f"Made {made}. A call belongs to the period in which it ended; days and hours are those of "
                         f"the installation's time zone ({flt.zone})."), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    return pdf


def heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 7.5)


def kpi_tiles(pdf: FPDF, k: dict, lang: str) -> None:
    """Six outcome tiles (colour, count, % of attempts), then the other figures in one row."""
    x0, y0 = pdf.l_margin, pdf.get_y()
    w, h, gap = (pdf.w - pdf.l_margin - pdf.r_margin - 5 * 3) / 6, 15, 3
    for i, (o, tile) in enumerate(zip(ORDER, k["outcomes"])):
        x = x0 + i * (w + gap)
        pdf.set_fill_color(*_rgb(o.colour))
        pdf.rect(x, y0, 2, h, style="F")
        pdf.set_draw_color(221, 225, 230)
        pdf.rect(x, y0, w, h)
        pdf.set_xy(x + 4, y0 + 1.5)
        pdf.set_font(FONT, "", 8)
        pdf.cell(w - 5, 4, _ru(lang, o.label_ru, o.label_en))
        pdf.set_xy(x + 4, y0 + 6.5)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(w - 5, 6, f"{tile['n']}   " + (f"{tile['pct']:.1f} %" if tile["pct"] is not None else "—"))
    pdf.set_xy(x0, y0 + h + 2)
    pdf.set_font(FONT, "", 8)
    figures = [(_ru(lang, "Попыток", "Attempts"), str(k["attempts"])),
               (_ru(lang, "Дозвон", "Contact rate"), _pct(k["contact_pct"])),
               (_ru(lang, "Ср. разговор", "Avg talk"), _dur(k["avg_talk_s"])),
               (_ru(lang, "Ср. постобработка", "Avg wrap-up"), _dur(k["avg_wrap_s"])),
               (_ru(lang, "Звонков в час оператора", "Calls per operator-hour"), _num(k["calls_per_hour"])),
               (_ru(lang, "Минут разговора в час", "Talk min per operator-hour"), _num(k["talk_min_per_hour"])),
               (_ru(lang, "Упущено (LOST)", "Abandoned (LOST)"), _pct(k["lost_pct"]))]
    pdf.multi_cell(0, 4.5, "   ·   ".join(f"{a}: {b}" for a, b in figures), new_x="LMARGIN", new_y="NEXT")


def _pct(v) -> str:
    return "—" if v is None else f"{v:.1f} %"


def _num(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def _dur(v) -> str:
    if v is None:
        return "—"
    s = int(round(v))
    return f"{s // 60}:{s % 60:02d}"


def histogram(pdf: FPDF, bars: list[dict], labels: list[str], lang: str, height: float = 45) -> None:
    """Stacked bars in the six outcome colours (SPEC A2 order, bottom up), drawn with rectangles."""
    x0, top = pdf.l_margin + 10, pdf.get_y() + 2
    width = pdf.w - pdf.r_margin - x0
    peak = max([sum(b["counts"].values()) for b in bars] + [1])
    step = width / max(len(bars), 1)
    base = top + height
    pdf.set_draw_color(200, 205, 210)
    pdf.line(x0, base, x0 + width, base)
    pdf.set_font(FONT, "", 6.5)
    pdf.set_xy(pdf.l_margin, top - 1)
    pdf.cell(9, 3, str(peak), align="R")
    for i, (b, label) in enumerate(zip(bars, labels)):
        y = base
        for o in ORDER:
            n = b["counts"].get(o.value, 0)
            if n:
                hgt = height * n / peak
                y -= hgt
                pdf.set_fill_color(*_rgb(o.colour))
                pdf.rect(x0 + i * step + step * 0.15, y, step * 0.7, hgt, style="F")
        pdf.set_xy(x0 + i * step, base + 0.5)
        pdf.cell(step, 3, label, align="C")
    pdf.set_xy(pdf.l_margin, base + 5)
    for o in ORDER:  # the legend
        pdf.set_fill_color(*_rgb(o.colour))
        pdf.rect(pdf.get_x(), pdf.get_y() + 0.8, 3, 3, style="F")
        pdf.set_x(pdf.get_x() + 4)
        pdf.cell(32, 4.5, _ru(lang, o.label_ru, o.label_en))
    pdf.ln(7)


def table(pdf: FPDF, cols: list[Col], rows: Iterable[dict], lang: str, first_width: float = 40) -> None:
    """A table; an outcome's count and share share one cell ("12 · 34.5 %"), so a slice fits a landscape page."""
    merged: list[tuple[str, list[Col]]] = []
    for c in cols:
        if c.key.startswith("pct_") and merged and merged[-1][1][0].key == "n_" + c.key[4:]:
            merged[-1][1].append(c)
        else:
            merged.append((c.title(lang).removesuffix(", %") if c.key.startswith("n_") else c.title(lang), [c]))
    usable = pdf.w - pdf.l_margin - pdf.r_margin
    rest = (usable - first_width) / max(len(merged) - 1, 1)
    pdf.set_font(FONT, "", 7)
    pdf.set_fill_color(255, 255, 255)  # the histogram leaves its last colour set: cells are not filled with it
    pdf.set_draw_color(200, 205, 210)
    with pdf.table(col_widths=[first_width] + [rest] * (len(merged) - 1), text_align="LEFT", line_height=4,
                   padding=0.8, repeat_headings=1, headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 244)),
                   cell_fill_mode="NONE") as t:
        head = t.row()
        for title, _ in merged:
            head.cell(title)
        for r in rows:
            line = t.row()
            for _, group in merged:
                parts = [shown(r.get(c.key), c.kind, lang, formula_safe=False) for c in group]
                if len(group) == 2:
                    line.cell(parts[0] + (f" · {parts[1]} %" if parts[1] else ""))
                else:
                    line.cell(parts[0])


def report_pdf(rep: dict, flt: Filter, lang: str) -> bytes:
    pdf = new_pdf(_ru(lang, "Отчёт по звонкам", "Calls report"), flt, lang)
    tables = report_tables(rep, lang)
    kpi_tiles(pdf, rep["kpis"], lang)
    heading(pdf, tables["days"][0])
    histogram(pdf, rep["by_day"], [d["key"][8:10] for d in rep["by_day"]], lang, height=35)
    heading(pdf, tables["hours"][0])
    histogram(pdf, rep["by_hour"], [str(h["key"]) for h in rep["by_hour"]], lang, height=35)
    for key in ("campaigns", "operators", "days"):
        title, cols, rows = tables[key]
        heading(pdf, title)
        table(pdf, cols, rows, lang, first_width=24 if key == "days" else 40)
    return bytes(pdf.output())


def calls_pdf(rows: Iterable[dict], total: int, flt: Filter, lang: str) -> bytes:
    from .reports_export import TABLES
    pdf = new_pdf(_ru(lang, "Звонки", "Calls"), flt, lang)
    if total > PDF_MAX_CALLS:
        pdf.set_text_color(184, 58, 58)
        pdf.multi_cell(0, 4.5, _ru(lang, f"Показаны первые {PDF_MAX_CALLS} из {total} звонков: все — в CSV или XLSX.",
                                   f"The first {PDF_MAX_CALLS} of {total} calls are shown: CSV or XLSX hold them all."),
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    cols = TABLES["calls"][2]
    table(pdf, cols, (call_row(r, lang) for r in rows), lang, first_width=14)
    return bytes(pdf.output())


def shift_pdf(rep: dict, flt: Filter, lang: str, subject: str, per_operator: bool = False) -> bytes:
    """The daily shift summary of one campaign or one operator: KPIs, the day by hour, the operators (and, for an
    operator, the campaigns they called for)."""
    pdf = new_pdf(_ru(lang, f"Сводка смены · {subject}", f"Shift summary · {subject}"), flt, lang)
    tables = report_tables(rep, lang)
    kpi_tiles(pdf, rep["kpis"], lang)
    heading(pdf, tables["hours"][0])
    histogram(pdf, rep["by_hour"], [str(h["key"]) for h in rep["by_hour"]], lang, height=45)
    for key in ("operators", "campaigns") if per_operator else ("operators",):
        title, cols, rows = tables[key]
        heading(pdf, title)
        table(pdf, cols, rows, lang)
    return bytes(pdf.output())
