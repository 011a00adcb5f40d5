"""What a Dockerfile says, read with a real parser (PyPI `dockerfile-parse`), build args resolved.

The conformance rules (k1s0_action.conformance) judge these facts; this module only reads the file
and turns the parser's instructions into small frozen values: stages, their bases (a stage name is
followed to the stage it names), and the instructions of each stage with ARG/ENV keys resolved.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from
from dockerfile_parse.util import WordSplitter

from k1s0_action.errors import InputError

# Instructions whose variables Docker expands and whose words the rules read.
_RESOLVED = ("USER", "EXPOSE", "WORKDIR")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    value: str  # as written, line continuations joined
    line: int  # 1-based line of the instruction's start
    keys: tuple[tuple[str, str], ...] = ()  # ARG/ENV: (name, resolved value)
    words: tuple[str, ...] = ()  # USER/EXPOSE/WORKDIR: the value's words, variables resolved


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # the `AS` name, or "" for an unnamed stage
    base: str  # the FROM reference with build args resolved (may name an earlier stage)
    base_stage: int | None  # index of the earlier stage `base` names, if it names one
    line: int
    instructions: tuple[Instruction, ...]

    def of(self, keyword: str) -> tuple[Instruction, ...]:
        return tuple(i for i in self.instructions if i.keyword == keyword)


@dataclass(frozen=True)
class CopySource:
    """A COPY/ADD: its sources, destination and `--from` stage (empty for the build context)."""

    keyword: str
    sources: tuple[str, ...]
    destination: str
    from_stage: str
    line: int


@dataclass(frozen=True)
class DockerfileFacts:
    path: str
    stages: tuple[Stage, ...]
    final: int  # the stage that becomes the image (the last, or the build's target)
    global_args: tuple[Instruction, ...] = ()

    @property
    def final_stage(self) -> Stage:
        return self.stages[self.final]

    def lineage(self, index: int) -> tuple[Stage, ...]:
        """The stage and the stages it is built FROM, nearest first."""
        chain = []
        current: int | None = index
        while current is not None:
            stage = self.stages[current]
            chain.append(stage)
            current = stage.base_stage
        return tuple(chain)

    def external_base(self, index: int) -> str:
        """The image a stage ultimately starts from (following `FROM <stage>`)."""
        return self.lineage(index)[-1].base


def copy_of(instruction: Instruction) -> CopySource:
    """Splits a COPY/ADD with the parser's own word splitter (shell or JSON form)."""
    value = instruction.value.strip()
    flags: dict[str, str] = {}
    raw = [str(word) for word in WordSplitter(value).split(dequote=False)]
    while raw and raw[0].startswith("--"):
        flag, _, flag_value = raw.pop(0)[2:].partition("=")
        flags[flag.lower()] = WordSplitter(flag_value).dequote()
    rest = value.split(None, len(flags))[-1] if flags else value
    words = [str(word) for word in WordSplitter(rest).split()]
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            words = [str(word) for word in parsed]
    paths = tuple(words)
    return CopySource(
        keyword=instruction.keyword,
        sources=paths[:-1],
        destination=paths[-1] if paths else "",
        from_stage=flags.get("from", ""),
        line=instruction.line,
    )


def parse(
    text: str,
    path: str = "Dockerfile",
    build_args: Mapping[str, str] | None = None,
    target: str = "",
) -> DockerfileFacts:
    """Parses Dockerfile text; raises InputError for a file without a FROM or an unknown target."""
    parser = DockerfileParser(fileobj=io.StringIO(text), build_args=dict(build_args or {}))
    structure = parser.structure
    contexts = parser.context_structure
    bases = parser.parent_images
    stages: list[Stage] = []
    global_args: list[Instruction] = []
    names: dict[str, int] = {}
    current: list[Instruction] | None = None
    header: tuple[str, str, int] | None = None

    def close() -> None:
        if header is None or current is None:
            return
        base, name, line = header
        index = len(stages)
        stages.append(
            Stage(
                index=index,
                name=name,
                base=base,
                base_stage=names.get(base.lower()),
                line=line,
                instructions=tuple(current),
            )
        )
        if name:
            names[name.lower()] = index

    for item, context in zip(structure, contexts, strict=True):
        keyword = str(item["instruction"]).upper()
        value = str(item["value"])
        line = int(item["startline"]) + 1
        keys: tuple[tuple[str, str], ...] = ()
        if keyword in ("ARG", "ENV"):
            resolved = context.get_line_value("ARG" if keyword == "ARG" else "ENV")
            keys = tuple((str(k), str(v)) for k, v in resolved.items())
        words: tuple[str, ...] = ()
        if keyword in _RESOLVED:
            splitter = WordSplitter(value, args=context.args, envs=context.envs)
            words = tuple(str(word) for word in splitter.split())
        instruction = Instruction(keyword=keyword, value=value, line=line, keys=keys, words=words)
        if keyword == "FROM":
            close()
            _, name = image_from(value)
            base = bases[len(stages)] if len(stages) < len(bases) else value.split()[0]
            header = (base, str(name or ""), line)
            current = []
            continue
        if current is None:
            if keyword == "ARG":
                global_args.append(instruction)
            continue
        current.append(instruction)
    close()
    if not stages:
        raise InputError("dockerfile", f"'{path}' has no FROM instruction")
    final = len(stages) - 1
    if target:
        if target.lower() not in names:
            raise InputError("target", f"'{target}' is not a stage of '{path}'")
        final = names[target.lower()]
    return DockerfileFacts(
        path=path, stages=tuple(stages), final=final, global_args=tuple(global_args)
    )


def read(
    path: Path, build_args: Mapping[str, str] | None = None, target: str = ""
) -> DockerfileFacts:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("dockerfile", f"cannot read '{path}': {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError("dockerfile", f"'{path}' is not UTF-8 text") from None
    return parse(text, str(path), build_args, target)
