"""Local wordings and misprints of the template's labels, as data, each with the class of source that shows it.

``nianbao.template`` holds the national template exactly as the State Council's office issued it. Real
reports print some labels differently: local templates reword them, converters and typists shorten or
misprint them. Matching (``nianbao.extract``, ``nianbao.recover``, ``nianbao.grammar``) uses the
template's labels plus the variants below; nothing else in the code carries a wording. A variant is
added only for a CLASS of sources (a converter, a local template, a recurring misprint), never for one
file, and each must still identify exactly one row or column (``tests/test_layouts.py`` checks that no
variant matches two keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Variant:
    """One wording of a row, column or section title that the national template does not print."""

    key: str  # row / column key of ``nianbao.template``, or "section:N"
    text: str
    evidence: str  # the class of source that prints it


VARIANTS: Final[tuple[Variant, ...]] = (
    # Table 1 (proactive disclosure): metric headers
    Variant("issued", "本年新制发件数", "local templates of county governments that keep the 2019 word 新"),
    Variant("repealed", "本年度止件数", "misprint of 废 as 度 in text extracts of township reports (2021 template)"),
    Variant("repealed", "本年废止数", "shortened headers in converted (HTML/Markdown) tables"),
    Variant("in_force", "现行有效数", "shortened headers in converted (HTML/Markdown) tables"),
    Variant("decisions", "本年处理决定数", "shortened headers in converted (HTML/Markdown) tables"),
    Variant("amount", "收费金额", "fee header without 本年/unit in local templates"),
    Variant("new_made", "本年新制作数", "shortened headers in converted tables (2019 template)"),
    Variant("new_published", "本年新公开数", "shortened headers in converted tables (2019 template)"),
    Variant("total_published", "对外公开总数", "shortened headers in converted tables (2019 template)"),
    Variant("prior_year_items", "上年项目数量", "2019-template reports that drop 一"),
    Variant("change", "本年增减", "增/减 printed without the slash"),
    Variant("change", "本年增/减数量", "2019-template local wording"),
    Variant("normative_documents", "规范性文件", "2021 reports keeping the 2019 row label (and the reverse)"),
    Variant("normative_documents", "行政规范性文件", "2019 reports using the 2021 row label"),
    # Table 2 (applications): row labels
    Variant("new_received", "本年新收政府信息公开申请", "labels without 数量 in converted tables"),
    Variant("new_received", "本年新收", "labels cut by narrow columns in PDF/Word tables"),
    Variant("carried_over", "上年结转政府信息公开申请", "labels without 数量 in converted tables"),
    Variant("carried_over", "上年结转", "labels cut by narrow columns in PDF/Word tables"),
    Variant("denied_prohibited_by_law", "其他法律法规禁止公开", "local templates (township reports, 2021) dropping 行政"),
    Variant("denied_prohibited_by_law", "其他法律行政止公开", "misprint dropping 法规禁 in born-digital PDFs (2023)"),
    Variant("denied_prohibited_by_law", "法律行政法规禁止公开", "the label without 其他 in converted tables"),
    Variant("other_no_correction", "申请人无正当理由逾期不补正", "the label cut after its first clause"),
    Variant("other_no_fee_paid", "申请人逾期未按收费通知要求缴纳费用", "the label cut after its first clause"),
    Variant("carried_forward", "结转下年度", "labels cut by narrow columns"),
    # Section titles: misprints seen in crawler dumps of web pages
    Variant("section:4", "政府信息公开行政法复议、行政诉讼情况", "misprint 行政法复议 in web pages of district governments"),
)


def variants_of(key: str) -> tuple[str, ...]:
    """Given a row, column or ``section:N`` key, return its variant wordings (may be empty)."""
    return tuple(v.text for v in VARIANTS if v.key == key)
