"""`flask roster import FILE --county CODE --as PHONE [--dry-run] [--mode valid|all] [--sheet NAME]`:
IT staff loading a county at a time, by the web import's own steps (app.members.importer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.phone import normalise_phone
from app.errors import DomainError
from app.extensions import db
from app.members import columns, importer
from app.members.models import ImportJob

roster = AppGroup("roster", help="Rosters of the talent pool.")


@roster.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--county", "county_code", required=True, help="The county being loaded, e.g. 410104.")
@click.option("--as", "phone", required=True, help="The mobile number of the admin doing it.")
@click.option("--dry-run", is_flag=True, help="Check every row and print the report; write nothing.")
@click.option("--mode", type=click.Choice(["valid", "all"]), default="valid", show_default=True,
              help="valid: import the rows without errors; all: import nothing if a row has one.")
@click.option("--sheet", default=None, help="The sheet to import when the file has several rosters.")
def import_command(path: Path, county_code: str, phone: str, dry_run: bool, mode: str, sheet: str | None) -> None:
    """Import a roster file (.xlsx, .xls, .csv) into one county, columns mapped by their headers."""
    actor = db.session.scalar(select(User).where(User.phone == (normalise_phone(phone) or phone)))
    if actor is None:
        raise click.ClickException(f"没有手机号码为 {phone} 的账号")
    try:
        job = importer.start_from_file(actor=actor, content=path.read_bytes(), filename=path.name, mode=mode,
                                       county_code=county_code)
        job_id = job.id
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        raise click.ClickException(e.message) from e
    importer.run_import(job_id, "read")
    job = _stopped_or(job_id)
    layouts = [s for s in importer.layouts_of(job) if s["headers"]]
    chosen = next((s for s in layouts if s["name"] == (sheet or job.sheet)), None)
    if chosen is None:
        _give_up(job_id, "请用 --sheet 指出要导入的工作表：" + "、".join(s["name"] for s in layouts))
    mapping, skills, _ = importer.proposed_mapping(chosen["headers"])
    unmapped = [f"第 {i + 1} 列“{h or '（没有标题）'}”" for i, (h, m) in enumerate(zip(chosen["headers"], mapping,
                                                                                       strict=True)) if m is None]
    problems = columns.mapping_problems([m if m is not None else "" for m in mapping])
    if unmapped or problems:
        _give_up(job_id, "\n".join((["认不出这些列（请在网页上导入，或把标题改成模板里的名称）：" + "、".join(unmapped)]
                                    if unmapped else []) + problems))
    click.echo(f"工作表“{chosen['name']}”，标题在第 {chosen['header_row']} 行：" + "，".join(
        f"{h}→{columns.FIELD_BY_KEY[m].label if m else '不导入'}" for h, m in zip(chosen["headers"], mapping, strict=True)))
    _set(job_id, sheet=chosen["name"], status="checking",
         mapping=json.dumps({**importer.mapping_of(job), "columns": mapping, "skills": skills}, ensure_ascii=False))
    importer.run_import(job_id, "check")
    job = _stopped_or(job_id)
    unknown = json.loads(job.unknown_skills or "{}")
    if not dry_run and unknown:
        _print_rows(job)
        _give_up(job_id, "这些专长不在专长列表中，请在网页上导入并选择怎样登记：" + "、".join(unknown))
    if not dry_run:
        importer.run_import(job_id, "write")
        job = _stopped_or(job_id)
    _print_rows(job)
    if dry_run:
        _set(job_id, status="cancelled", content=None, message="试运行：没有写入。")
        click.echo(f"dry run: would import {job.valid_rows - job.updated_rows - job.unchanged_rows}, "
                   f"update {job.updated_rows}, unchanged {job.unchanged_rows}, refused {job.error_rows + job.review_rows}")
        return
    click.echo(job.message)
    click.echo(f"imported {job.imported_rows}, updated {job.updated_rows}, unchanged {job.unchanged_rows}, "
               f"refused {job.error_rows + job.review_rows}")


def _print_rows(job: ImportJob) -> None:
    for item in importer.report(job, ("refuse", "review", "update")):
        reasons = "；".join(item["errors"] + item.get("notes", []))
        click.echo(f"第 {item['row']} 行 {item['name']}：{importer.ACTIONS[item['action']]}：{reasons}")
    click.echo(f"跳过：空行 {job.blank_rows} 行，合计、备注和重复的标题行 {job.skipped_rows} 行")


def _stopped_or(job_id: int) -> ImportJob:
    db.session.expire_all()
    job = db.session.get_one(ImportJob, job_id)
    if job.status == "failed":
        raise click.ClickException(job.message)
    return job


def _set(job_id: int, **values: object) -> None:
    db.session.rollback()
    job = db.session.get_one(ImportJob, job_id)
    for key, value in values.items():
        setattr(job, key, value)
    db.session.commit()


def _give_up(job_id: int, message: str) -> NoReturn:
    _set(job_id, status="cancelled", content=None, message=message)
    raise click.ClickException(message)
