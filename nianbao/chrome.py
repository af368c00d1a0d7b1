"""Site chrome: the one place for what web sites and crawlers put around a report (header lines, breadcrumbs,
page tools, footers). Readers and segmentation drop it; metadata never comes from it.
"""

from __future__ import annotations

import re

from nianbao.normalize import nfkc

# Crawler header lines: "key: value" lines of the page around the report ("栏目: …", "发布日期: …").
CRAWLER_HEADER = re.compile(
    r"^\s*(?:栏目|所属栏目|发布日期|发布时间|更新时间|浏览次数|访问量|阅读次数|点击(?:数|量|率)?|来源|信息来源|文章来源|"
    r"字号|当前位置|您的位置|您现在的位置|所在位置|文号|发布机构|发文机关|原文链接|本地目录|索引号|主题分类|作者|责任编辑|"
    r"分享到|标题)\s*[:：]")
# A breadcrumb line ("首页 > 政务公开 > …"): anchored form for text lines, free form inside a page's markup.
BREADCRUMB_LINE = re.compile(r"^\s*(?:首页|主页|网站首页)\s*(?:[>»›＞→/|]|&gt;)")
BREADCRUMB = re.compile(r"当前位置|您的位置|您现在的位置|所在位置|现在的位置|^首页.{0,80}[>»›＞→/]")
# Date and source lines between a page's title and its text.
ARTICLE_META = re.compile(r"日期[:：]|(?:发布|更新|发文|生成|成文)时间|信息来源|来源[:：]|发文机关|发布机构|索引号|"
                          r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?$")
# Page tools (print, font size, share), counted only on short lines.
PAGE_TOOLS = re.compile(r"打印|关闭|字号|字体|大中小|分享|收藏|扫一扫|返回顶部|上一篇|下一篇|浏览次数|访问量|阅读次数")
# Site footer: the strong patterns in lines up to 200 characters, the weak ones only in short lines (a report
# may well say 请联系我们).
FOOTER_STRONG = re.compile(r"主办单位|主办[:：]|承办单位|承办[:：]|ICP|网站标识码|公网安备|版权所有|Copyright|©",
                           re.IGNORECASE)
FOOTER_WEAK = re.compile(r"站点地图|网站地图|联系我们|关于我们|网站声明|上一篇|下一篇|相关链接|相关阅读|相关文章|相关新闻|"
                         r"相关稿件|扫一扫|分享到|打印本页|关闭窗口|【打印】|【关闭】")
# Footer lines that end a report in any format (the document model's text after the last section).
FOOTER_LINE = re.compile(r"主办[:：]|承办[:：]|ICP备|网站标识码|站点地图|公网安备|版权所有|建议使用.*浏览器|网站地图|技术支持[:：]")


def is_footer_text(text: str) -> bool:
    """Given a line without spaces, return True when it is a site footer line."""
    return (len(text) <= 200 and bool(FOOTER_STRONG.search(text))) or (len(text) <= 40 and bool(FOOTER_WEAK.search(text)))


def is_chrome_line(text: str) -> bool:
    """True for a crawler header line ("栏目: …") or a breadcrumb ("首页 > …")."""
    t = nfkc(text)
    return bool(CRAWLER_HEADER.match(t) or BREADCRUMB_LINE.match(t) or re.fullmatch(r"[=\-\s]*正文[=\-\s]*", t))
