"""`hotline models graph`: compose a model's static decoding graph (speech/graph.py).

    hotline models graph [--model DIR] [--auto]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speech.graph import GraphBuildError, build, compiled_for, lookahead_files, tools_problem
from speech.model import default_model_dir, model_problem


def cmd_models_graph(args: argparse.Namespace) -> int:
    model_dir = (args.model or default_model_dir()).expanduser()
    if model_problem(model_dir) is not None:
        if args.auto:
            return 0  # `models fetch --auto` has said why there is no model
        print(f"没有语音模型，无法生成解码图 / no speech model at {model_dir}: nothing to compose (`make model` downloads it)", file=sys.stderr)
        return 1
    if lookahead_files(model_dir.resolve()) is None:
        print(f"模型已带静态解码图 / {model_dir} already has a static graph (graph/HCLG.fst)", file=sys.stderr)
        return 0
    built = compiled_for(model_dir.resolve())
    if built is not None:
        print(f"静态解码图 / static decoding graph: {built}", file=sys.stderr)
        return 0
    problem = tools_problem()
    if problem and args.auto:
        print(f"未生成静态解码图，实时转写使用模型自带的解码图（较慢）/ no static decoding graph: {problem}", file=sys.stderr)
        return 0
    print(f"正在生成静态解码图（约 1 分钟）/ composing the static decoding graph of {model_dir.name} (about a minute, 1 GB of memory) …",
          file=sys.stderr, flush=True)
    try:
        built = build(model_dir)
    except GraphBuildError as exc:
        print(f"静态解码图生成失败 / could not compose the static graph: {exc}", file=sys.stderr)
        return 0 if args.auto else 1
    print(f"静态解码图已就绪 / static decoding graph ready: {built}", file=sys.stderr)
    return 0


def add_cli(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `models graph` beside `models fetch`."""
    graph = models.add_parser("graph", help="compose the model's static decoding graph (faster decoding, less memory per call)")
    graph.add_argument("--model", type=Path, help="model directory (default: the one the gateway uses)")
    graph.add_argument("--auto", action="store_true", help="what `make run` does: skip quietly without a model or the tools, always exit 0")
    graph.set_defaults(func=cmd_models_graph)
