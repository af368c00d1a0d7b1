"""The national report template (2019 and 2021 versions) as data.

The labels here are the national template's, exactly as issued; local wordings, shortened labels and
misprints are data in ``nianbao.variants`` (with the class of source that shows each), used by matching.
Everything else derives from this module: readers match labels declared here, the
pandera schemas take their allowed keys from here, the data dictionary is generated
from here, and a meta-test keeps them in step. Keys are a public contract
(``../shared/reference/template.md``): never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

TemplateVersion = Literal["2019", "2021"]
TEMPLATE_VERSIONS: Final[tuple[TemplateVersion, ...]] = ("2019", "2021")

TABLE_KEYS: Final[tuple[str, ...]] = ("proactive_disclosure", "applications", "reviews_litigation")
# Names of the two key columns of each cell table, in the published datasets.
TABLE_KEY_COLUMNS: Final[dict[str, tuple[str, str]]] = {
    "proactive_disclosure": ("category", "metric"),
    "applications": ("row", "applicant"),
    "reviews_litigation": ("proceeding", "outcome"),
}


@dataclass(frozen=True)
class Section:
    """One of the six report sections: number, canonical title and title keywords."""

    number: int
    key: str
    title: str
    # Every keyword group must match (any alternative within a group) for a line to be this heading.
    keywords: tuple[tuple[str, ...], ...]


SECTIONS: Final[tuple[Section, ...]] = (
    Section(1, "overview", "一、总体情况", (("总体情况", "概述"),)),
    Section(2, "proactive_disclosure", "二、主动公开政府信息情况", (("主动公开",), ("情况",))),
    Section(3, "applications", "三、收到和处理政府信息公开申请情况", (("收到和处理", "收到处理"), ("申请",))),
    Section(4, "reviews_litigation", "四、政府信息公开行政复议、行政诉讼情况", (("复议",), ("诉讼",))),
    Section(5, "problems", "五、存在的主要问题及改进情况", (("存在的主要问题", "存在的问题", "主要问题"), ("改进",))),
    Section(6, "other_matters", "六、其他需要报告的事项", (("其他需要报告",),)),
)


@dataclass(frozen=True)
class Row:
    """A template row: its key and its label(s) as the national template prints them (see ``nianbao.variants``
    for other wordings)."""

    key: str
    labels: tuple[str, ...]
    group: str = ""
    item: str = ""  # clause of art. 20 for table 1 (e.g. "20.1")
    metrics: tuple[str, ...] = ()  # table 1: the metrics of this row, in printed order


@dataclass(frozen=True)
class Column:
    key: str
    labels: tuple[str, ...]
    unit: str = ""


@dataclass(frozen=True)
class TableTemplate:
    """One statistical table of one template version."""

    key: str
    version: TemplateVersion
    title: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    # Label fragments that only occur in this version of the table (used to decide the version).
    markers: tuple[str, ...] = ()

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.rows)

    @property
    def column_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    def cell_keys(self) -> list[tuple[str, str]]:
        """Return every (key1, key2) pair this table publishes, in printed order."""
        if self.key == "proactive_disclosure":
            return [(r.key, m) for r in self.rows for m in r.metrics]
        return [(r.key, c.key) for r in self.rows for c in self.columns]


# --- Table 1: proactive disclosure -------------------------------------------------

METRICS: Final[dict[str, Column]] = {
    c.key: c
    for c in (
        Column("issued", ("本年制发件数",)),
        Column("repealed", ("本年废止件数",)),
        Column("in_force", ("现行有效件数",)),
        Column("decisions", ("本年处理决定数量", "处理决定数量")),  # 2021 / 2019 wording
        Column("amount", ("本年收费金额", "采购总金额"), unit="万元"),  # fees (2021) / procurement (2019)
        Column("new_made", ("本年新制作数量",)),
        Column("new_published", ("本年新公开数量",)),
        Column("total_published", ("对外公开总数量",)),
        Column("prior_year_items", ("上一年项目数量",)),
        Column("change", ("本年增/减",)),
        Column("items", ("采购项目数量",)),
    )
}

PROACTIVE_2021 = TableTemplate(
    key="proactive_disclosure",
    version="2021",
    title="主动公开政府信息情况",
    rows=(
        Row("rules", ("规章",), item="20.1", metrics=("issued", "repealed", "in_force")),
        Row("normative_documents", ("行政规范性文件",), item="20.1",
            metrics=("issued", "repealed", "in_force")),
        Row("licensing", ("行政许可",), item="20.5", metrics=("decisions",)),
        Row("penalties", ("行政处罚",), item="20.6", metrics=("decisions",)),
        Row("coercive_measures", ("行政强制",), item="20.6", metrics=("decisions",)),
        Row("fees", ("行政事业性收费",), item="20.8", metrics=("amount",)),
    ),
    columns=tuple(METRICS[k] for k in ("issued", "repealed", "in_force", "decisions", "amount")),
    markers=("本年制发件数", "现行有效件数", "本年废止件数", "本年收费金额"),
)

PROACTIVE_2019 = TableTemplate(
    key="proactive_disclosure",
    version="2019",
    title="主动公开政府信息情况",
    rows=(
        Row("rules", ("规章",), item="20.1", metrics=("new_made", "new_published", "total_published")),
        Row("normative_documents", ("规范性文件",), item="20.1",
            metrics=("new_made", "new_published", "total_published")),
        Row("licensing", ("行政许可",), item="20.5", metrics=("prior_year_items", "change", "decisions")),
        Row("other_external_services", ("其他对外管理服务事项",), item="20.5",
            metrics=("prior_year_items", "change", "decisions")),
        Row("penalties", ("行政处罚",), item="20.6", metrics=("prior_year_items", "change", "decisions")),
        Row("coercive_measures", ("行政强制",), item="20.6", metrics=("prior_year_items", "change", "decisions")),
        Row("fees", ("行政事业性收费",), item="20.8", metrics=("prior_year_items", "change")),
        Row("central_procurement", ("政府集中采购",), item="20.9", metrics=("items", "amount")),
    ),
    columns=tuple(METRICS[k] for k in ("new_made", "new_published", "total_published", "prior_year_items",
                                        "change", "decisions", "items", "amount")),
    markers=("本年新制作数量", "上一年项目数量", "政府集中采购", "对外公开总数量", "第二十条第(九)项"),
)

# --- Table 2: applications -----------------------------------------------------------

APPLICANTS: Final[tuple[Column, ...]] = (
    Column("natural_person", ("自然人",)),
    Column("commercial_enterprise", ("商业企业",)),
    Column("research_institution", ("科研机构",)),
    Column("public_interest_org", ("社会公益组织",)),
    Column("legal_service_org", ("法律服务机构",)),
    Column("other_org", ("其他",)),
    Column("total", ("总计",)),
)

_HEAD = (
    Row("new_received", ("本年新收政府信息公开申请数量",), group="一"),
    Row("carried_over", ("上年结转政府信息公开申请数量",), group="二"),
    Row("granted", ("予以公开",), group="三"),
    Row("partially_granted", ("部分公开",), group="三"),
    Row("denied_state_secret", ("属于国家秘密",), group="三(三)"),
    Row("denied_prohibited_by_law", ("其他法律行政法规禁止公开",), group="三(三)"),
    Row("denied_security_stability", ("危及“三安全一稳定”",), group="三(三)"),
    Row("denied_third_party_rights", ("保护第三方合法权益",), group="三(三)"),
    Row("denied_internal_affairs", ("属于三类内部事务信息",), group="三(三)"),
    Row("denied_process_information", ("属于四类过程性信息",), group="三(三)"),
    Row("denied_enforcement_files", ("属于行政执法案卷",), group="三(三)"),
    Row("denied_inquiry_matters", ("属于行政查询事项",), group="三(三)"),
    Row("unavailable_not_held", ("本机关不掌握相关政府信息",), group="三(四)"),
    Row("unavailable_needs_creation", ("没有现成信息需要另行制作",), group="三(四)"),
    Row("unavailable_unclear", ("补正后申请内容仍不明确",), group="三(四)"),
    Row("not_processed_complaint", ("信访举报投诉类申请",), group="三(五)"),
    Row("not_processed_duplicate", ("重复申请",), group="三(五)"),
    Row("not_processed_publication", ("要求提供公开出版物",), group="三(五)"),
    Row("not_processed_excessive", ("无正当理由大量反复申请",), group="三(五)"),
    Row("not_processed_confirmation", ("要求行政机关确认或重新出具已获取信息",), group="三(五)"),
)
_TAIL = (
    Row("total_handled", ("总计",), group="三(七)"),
    Row("carried_forward", ("结转下年度继续办理",), group="四"),
)

APPLICATIONS_2021 = TableTemplate(
    key="applications",
    version="2021",
    title="收到和处理政府信息公开申请情况",
    rows=_HEAD + (
        Row("other_no_correction", ("申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",), group="三(六)"),
        Row("other_no_fee_paid", ("申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",),
            group="三(六)"),
        Row("other_other", ("其他",), group="三(六)"),
    ) + _TAIL,
    columns=APPLICANTS,
    markers=("逾期不补正", "缴纳费用"),
)

APPLICATIONS_2019 = TableTemplate(
    key="applications",
    version="2019",
    title="收到和处理政府信息公开申请情况",
    rows=_HEAD + (Row("other_handling", ("其他处理",), group="三(六)"),) + _TAIL,
    columns=APPLICANTS,
)

# --- Table 3: reviews and litigation -------------------------------------------------

OUTCOMES: Final[tuple[Column, ...]] = (
    Column("upheld", ("结果维持",)),
    Column("corrected", ("结果纠正",)),
    Column("other", ("其他结果",)),
    Column("pending", ("尚未审结",)),
    Column("total", ("总计",)),
)
PROCEEDINGS: Final[tuple[Row, ...]] = (
    Row("administrative_review", ("行政复议",)),
    Row("litigation_direct", ("未经复议直接起诉",)),
    Row("litigation_after_review", ("复议后起诉",)),
)
REVIEWS_2021 = TableTemplate("reviews_litigation", "2021", "政府信息公开行政复议、行政诉讼情况", PROCEEDINGS, OUTCOMES)
REVIEWS_2019 = TableTemplate("reviews_litigation", "2019", "政府信息公开行政复议、行政诉讼情况", PROCEEDINGS, OUTCOMES)

TABLES: Final[dict[tuple[str, TemplateVersion], TableTemplate]] = {
    (t.key, t.version): t
    for t in (PROACTIVE_2019, PROACTIVE_2021, APPLICATIONS_2019, APPLICATIONS_2021, REVIEWS_2019, REVIEWS_2021)
}

# Handling-result rows: their sum is total_handled (the （七）总计 row).
HANDLING_ROWS_2021: Final[tuple[str, ...]] = tuple(
    r.key for r in APPLICATIONS_2021.rows if r.group.startswith("三") and r.key != "total_handled")
HANDLING_ROWS_2019: Final[tuple[str, ...]] = tuple(
    r.key for r in APPLICATIONS_2019.rows if r.group.startswith("三") and r.key != "total_handled")
APPLICANT_PARTS: Final[tuple[str, ...]] = tuple(c.key for c in APPLICANTS if c.key != "total")
OUTCOME_PARTS: Final[tuple[str, ...]] = ("upheld", "corrected", "other", "pending")


@dataclass(frozen=True)
class Identity:
    """A 勾稽关系 that a correct report satisfies; evaluated per report by ``validate``."""

    check: str
    table: str
    description: str
    templates: tuple[TemplateVersion, ...] = TEMPLATE_VERSIONS
    details: dict[str, str] = field(default_factory=dict)


IDENTITIES: Final[tuple[Identity, ...]] = (
    Identity("applications_balance", "applications",
             "new_received + carried_over = total_handled + carried_forward, per applicant column"),
    Identity("applications_handled_total", "applications",
             "total_handled = sum of the handling-result rows, per applicant column"),
    Identity("applications_row_total", "applications",
             "total column = sum of the six applicant columns, per row"),
    Identity("reviews_litigation_total", "reviews_litigation",
             "upheld + corrected + other + pending = total, per proceeding"),
    Identity("proactive_non_negative", "proactive_disclosure",
             "every count >= 0 (except the 2019 `change`)"),
)


def all_row_keys(table: str) -> list[str]:
    """Given a table key, return every row/category key of either template version, without duplicates."""
    out: list[str] = []
    for version in TEMPLATE_VERSIONS:
        for r in TABLES[(table, version)].rows:
            if r.key not in out:
                out.append(r.key)
    return out


def all_column_keys(table: str) -> list[str]:
    """Given a table key, return every column/metric key of either template version, without duplicates."""
    out: list[str] = []
    for version in TEMPLATE_VERSIONS:
        t = TABLES[(table, version)]
        keys = [m for r in t.rows for m in r.metrics] if table == "proactive_disclosure" else list(t.column_keys)
        for k in keys:
            if k not in out:
                out.append(k)
    return out
