"""Import and export of entries as YAML or CSV. An import is validated whole before anything
is written, with one error report per row; then it is applied in one Redis transaction, so it
is never half-applied."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge_base.models import EntryContent, EntryVersion

CSV_FIELDS = ["id", "title", "phrasings", "answer", "links", "category", "department", "policy_ref",
              "effective_from", "expires_at", "review_due", "tags", "sample"]
LIST_SEPARATOR = "|"


@dataclass
class RowError:
    row: int
    entry_id: str | None
    field: str
    message: str


@dataclass
class ParsedImport:
    rows: list[tuple[str, EntryContent]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class ImportFormatError(ValueError):
    pass


def parse(data: bytes, fmt: str) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFormatError("文件须为 UTF-8 编码") from None
    if fmt == "yaml":
        try:
            rows = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ImportFormatError(f"YAML 格式错误：{str(exc)[:200]}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportFormatError("YAML 须为条目列表")
        return rows
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"id", "title", "answer", "category"} - set(reader.fieldnames or [])
        if missing:
            raise ImportFormatError(f"CSV 缺少必需的列：{'、'.join(sorted(missing))}")
        rows = []
        for raw in reader:
            row: dict[str, Any] = {k: (v or "").strip() for k, v in raw.items() if k}
            for name in ("phrasings", "tags"):
                row[name] = [p for p in row.get(name, "").split(LIST_SEPARATOR) if p.strip()]
            row["links"] = json.loads(row["links"]) if row.get("links") else []
            row["sample"] = row.get("sample", "").lower() in {"1", "true", "yes", "是"}
            for name in ("effective_from", "expires_at", "review_due"):
                row[name] = row.get(name) or None
            rows.append(row)
        return rows
    raise ImportFormatError("只支持 yaml 或 csv 格式")


def validate(rows: list[dict[str, Any]], first_row: int = 1, seen: set[str] | None = None) -> ParsedImport:
    """Validate rows numbered from `first_row`; `seen` carries ids across slices of one file."""
    out = ParsedImport()
    seen = set() if seen is None else seen
    for number, row in enumerate(rows, start=first_row):
        entry_id = str(row.get("id") or "").strip() or None
        if entry_id is None:
            out.errors.append(RowError(number, None, "id", "缺少条目编号"))
            continue
        if entry_id in seen:
            out.errors.append(RowError(number, entry_id, "id", "条目编号在文件中重复"))
            continue
        seen.add(entry_id)
        fields = {k: v for k, v in row.items() if k != "id"}
        try:
            out.rows.append((entry_id, EntryContent.model_validate(fields)))
        except ValidationError as exc:
            for error in exc.errors():
                name = ".".join(str(p) for p in error["loc"]) or ("expires_at" if "expires_at" in str(error.get("msg")) else "entry")
                out.errors.append(RowError(number, entry_id, name, _message(error)))
    return out


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if "expires_at must be after" in str(error.get("msg", "")):
        return "到期日期须晚于生效日期"
    if kind == "missing":
        return "必填项缺失"
    if kind == "extra_forbidden":
        return "不支持的字段"
    if kind.startswith("string_too"):
        return "长度不符合要求"
    if "date" in kind:
        return "日期格式应为 YYYY-MM-DD"
    return "内容格式不正确"


def export(versions: list[EntryVersion], fmt: str) -> bytes:
    rows = []
    for v in versions:
        data = v.content().model_dump(mode="json")
        rows.append({"id": v.entry_id, **data})
    if fmt == "yaml":
        return yaml.safe_dump(rows, allow_unicode=True, sort_keys=False).encode()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in rows:
        row = dict(row)
        row["phrasings"] = LIST_SEPARATOR.join(row["phrasings"])
        row["tags"] = LIST_SEPARATOR.join(row["tags"])
        row["links"] = json.dumps(row["links"], ensure_ascii=False) if row["links"] else ""
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_FIELDS})
    return ("\ufeff" + buffer.getvalue()).encode()  # BOM so spreadsheet programs read UTF-8
