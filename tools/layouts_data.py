"""The national template as a report prints it, and real wordings and site chrome, for tools/generate_layouts.py:
row labels, column headers and table titles of both template versions, section titles and their real
rewordings (HEADING_VARIANTS), numbering styles, crawler header lines and footers."""

from __future__ import annotations

# --- the template as printed (labels of the national template, 2019 and 2021) ---------------------

T1_HEAD = {"2021": {"issued": "本年制发件数", "repealed": "本年废止件数", "in_force": "现行有效件数",
                    "decisions": "本年处理决定数量", "amount": "本年收费金额（单位：万元）"},
           "2019": {"new_made": "本年新制作数量", "new_published": "本年新公开数量", "total_published": "对外公开总数量",
                    "prior_year_items": "上一年项目数量", "change": "本年增/减", "decisions": "处理决定数量",
                    "items": "采购项目数量", "amount": "采购总金额"}}
T1_GROUPS = {"2021": [("第二十条第（一）项", [("rules", "规章"), ("normative_documents", "行政规范性文件")]),
                      ("第二十条第（五）项", [("licensing", "行政许可")]),
                      ("第二十条第（六）项", [("penalties", "行政处罚"), ("coercive_measures", "行政强制")]),
                      ("第二十条第（八）项", [("fees", "行政事业性收费")])],
             "2019": [("第二十条第（一）项", [("rules", "规章"), ("normative_documents", "规范性文件")]),
                      ("第二十条第（五）项", [("licensing", "行政许可"), ("other_external_services", "其他对外管理服务事项")]),
                      ("第二十条第（六）项", [("penalties", "行政处罚"), ("coercive_measures", "行政强制")]),
                      ("第二十条第（八）项", [("fees", "行政事业性收费")]),
                      ("第二十条第（九）项", [("central_procurement", "政府集中采购")])]}
T1_METRICS = {"2021": {"rules": ["issued", "repealed", "in_force"], "normative_documents": ["issued", "repealed", "in_force"],
                       "licensing": ["decisions"], "penalties": ["decisions"], "coercive_measures": ["decisions"],
                       "fees": ["amount"]},
              "2019": {"rules": ["new_made", "new_published", "total_published"],
                       "normative_documents": ["new_made", "new_published", "total_published"],
                       "licensing": ["prior_year_items", "change", "decisions"],
                       "other_external_services": ["prior_year_items", "change", "decisions"],
                       "penalties": ["prior_year_items", "change", "decisions"],
                       "coercive_measures": ["prior_year_items", "change", "decisions"],
                       "fees": ["prior_year_items", "change"], "central_procurement": ["items", "amount"]}}
APPLICANTS = ["natural_person", "commercial_enterprise", "research_institution", "public_interest_org",
              "legal_service_org", "other_org", "total"]
# (group label printed before the first row of the group, row key, row label)
T2_ROWS_HEAD = [(None, "new_received", "一、本年新收政府信息公开申请数量"),
                (None, "carried_over", "二、上年结转政府信息公开申请数量"),
                ("三、本年度办理结果", "granted", "（一）予以公开"),
                (None, "partially_granted", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
                ("（三）不予公开", "denied_state_secret", "1.属于国家秘密"),
                (None, "denied_prohibited_by_law", "2.其他法律行政法规禁止公开"),
                (None, "denied_security_stability", "3.危及“三安全一稳定”"),
                (None, "denied_third_party_rights", "4.保护第三方合法权益"),
                (None, "denied_internal_affairs", "5.属于三类内部事务信息"),
                (None, "denied_process_information", "6.属于四类过程性信息"),
                (None, "denied_enforcement_files", "7.属于行政执法案卷"),
                (None, "denied_inquiry_matters", "8.属于行政查询事项"),
                ("（四）无法提供", "unavailable_not_held", "1.本机关不掌握相关政府信息"),
                (None, "unavailable_needs_creation", "2.没有现成信息需要另行制作"),
                (None, "unavailable_unclear", "3.补正后申请内容仍不明确"),
                ("（五）不予处理", "not_processed_complaint", "1.信访举报投诉类申请"),
                (None, "not_processed_duplicate", "2.重复申请"),
                (None, "not_processed_publication", "3.要求提供公开出版物"),
                (None, "not_processed_excessive", "4.无正当理由大量反复申请"),
                (None, "not_processed_confirmation", "5.要求行政机关确认或重新出具已获取信息")]
T2_OTHER_2021 = [("（六）其他处理", "other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
                 (None, "other_no_fee_paid", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
                 (None, "other_other", "3.其他")]
T2_OTHER_2019 = [(None, "other_handling", "（六）其他处理")]
T2_TAIL = [(None, "total_handled", "（七）总计"), (None, "carried_forward", "四、结转下年度继续办理")]
T2_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
PROCEEDINGS = ["administrative_review", "litigation_direct", "litigation_after_review"]
OUTCOMES = ["upheld", "corrected", "other", "pending", "total"]
OUTCOME_LABELS = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]

CANONICAL = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
             "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]
# Real wordings of the six section titles (without numbering), collected from published reports.
HEADING_VARIANTS = {
    1: ["总体情况", "概述", "总体情况"],
    2: ["主动公开政府信息情况", "行政机关主动公开政府信息情况", "主动公开情况", "主动公开政府信息"],
    3: ["收到和处理政府信息公开申请情况", "依申请公开情况", "政府信息公开申请办理情况", "依申请公开政府信息情况",
        "收到和处理政府信息公开申请"],
    4: ["政府信息公开行政复议、行政诉讼情况", "政府信息公开行政复议和行政诉讼情况",
        "因政府信息公开工作被申请行政复议、提起行政诉讼情况", "行政复议、行政诉讼情况"],
    5: ["存在的主要问题及改进情况", "政府信息公开工作存在的主要问题及改进情况", "存在的问题及改进措施",
        "存在的主要问题和改进措施"],
    6: ["其他需要报告的事项", "其他需要报告事项", "其他事项"],
}
CN = "零一二三四五六七八九十"
NUMBERINGS = ["{cn}、", "{n}.", "{n}、", "（{cn}）", "({cn})", "{n}．", ""]
FW = str.maketrans("0123456789.,-", "０１２３４５６７８９．，－")

CHROME_HEAD = ["栏目: 政府信息公开年报", "栏目：政务公开 > 政府信息公开年报", "发布日期: {d}", "发布时间：{d} 09:{m:02d}",
               "浏览次数: {n}", "访问量：{n}", "来源：{site}", "字号：大 中 小", "首页 > 政务公开 > 政府信息公开年报 > 正文",
               "当前位置：首页 > 信息公开 > 年度报告", "【打印】【关闭】"]
CHROME_FOOT = ["主办：{site}办公室 承办：{site}大数据中心", "网站标识码：{n}  ICP备{n}号", "版权所有：{site}",
               "联系我们 | 网站地图 | 隐私声明", "上一篇：关于印发工作要点的通知  下一篇：无"]
SITES = ["市人民政府门户网站", "县人民政府网", "区政府信息公开平台", "省人民政府"]


def t2_header_tokens() -> list[str]:
    return [T2_NOTE, "申请人情况", "自然人", "法人或其他组织", "总计", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]


def t3_header_tokens() -> list[str]:
    return ["行政复议", "行政诉讼", *OUTCOME_LABELS, "未经复议直接起诉", "复议后起诉", *OUTCOME_LABELS, *OUTCOME_LABELS]


def md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def html_table(rows: list[list[tuple[str, int, int]]]) -> str:
    out = ["<table>"]
    for r in rows:
        tds = "".join(f"<td{f' rowspan={rs}' if rs > 1 else ''}{f' colspan={cs}' if cs > 1 else ''}>{t}</td>"
                      for t, rs, cs in r)
        out.append(f"<tr>{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)
