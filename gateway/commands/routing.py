"""`lapor-gateway routing train|predict|evaluate` and `lapor-gateway spam release|confirm`.

gateway/cli.py mounts them:
`app.add_typer(routing.routing_app(dispositions), name="routing")` (dispositions: the database source
used when `train` has no --data; None until storage provides one) and
`app.add_typer(routing.spam_app(open_spam_store), name="spam")`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings, load_settings
from gateway.errors import ConfigurationError
from gateway.intel.evaluation import evaluate
from gateway.intel.router import Example, load_examples, load_model, parse_time, train
from gateway.intel.routing_rules import RoutingRules
from gateway.intel.spam_review import ReviewDecision, SpamReviewStore, review
from gateway.messages import utcnow

DispositionSource = Callable[[Settings], list[Example]]
SpamStoreFactory = Callable[[Settings], AbstractAsyncContextManager[SpamReviewStore]]

DEFAULT_RULES = Path("config/routing.yaml")
ModelOption = Annotated[Path, typer.Option("--model", "-m", help="Model file written by `routing train`.")]
RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Routing rules file, the baseline (default: config/routing.yaml).")
]


def _fail(exc: ConfigurationError) -> typer.Exit:
    typer.echo(f"error: {exc.reason}" + (f": {exc.detail}" if exc.detail else ""), err=True)
    return typer.Exit(2)


def _rules(path: Path | None) -> RoutingRules | None:
    if path is None:
        return RoutingRules.load(DEFAULT_RULES) if DEFAULT_RULES.exists() else None
    return RoutingRules.load(path)


def _date(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def routing_app(dispositions: DispositionSource | None = None) -> typer.Typer:
    """The `routing` command group; `dispositions` reads training data from the database."""
    app = typer.Typer(no_args_is_help=True, help="The learned agency router.")

    @app.command("train")
    def train_command(
        out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model file.")],
        data: Annotated[
            Path | None, typer.Option("--data", help='JSON lines {"text","agency","received_at"} (default: database).')
        ] = None,
        rules: RulesOption = None,
        before: Annotated[
            str | None, typer.Option("--before", help="Use only examples received before this ISO date.")
        ] = None,
        config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    ) -> None:
        """Train a model on final dispositions; it starts in shadow mode unless it beat the rules."""
        try:
            if data is not None:
                examples = load_examples(data)
            elif dispositions is not None:
                examples = dispositions(load_settings(config))
            else:
                raise ConfigurationError("no --data given and no database source is wired in")
            cutoff = _date(before)
            if cutoff is not None:
                examples = [e for e in examples if e.received_at < cutoff]
            model = train(examples, rules=_rules(rules))
            model.save(out)
        except ConfigurationError as exc:
            raise _fail(exc) from None
        header = model.header
        typer.echo(
            f"trained on {header.examples} examples until {header.trained_until}; threshold {header.threshold}; "
            f"{'shadow' if header.shadow else 'active'} (recent month: model {header.gate['model_accuracy']}, "
            f"rules {header.gate['rules_accuracy']}); written to {out}",
            err=True,
        )

    @app.command("predict")
    def predict_command(model: ModelOption) -> None:
        """Read JSON lines {"text"} on stdin, write {"agency","confidence","auto","top"} lines on stdout."""
        try:
            router = load_model(model)
        except ConfigurationError as exc:
            raise _fail(exc) from None
        for number, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                text = str(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                typer.echo(f"line {number}: expected a JSON object with \"text\"", err=True)
                raise typer.Exit(1) from None
            p = router.predict(text)
            sys.stdout.write(json.dumps({
                "agency": p.agency, "confidence": p.confidence, "auto": p.auto,
                "top": [{"agency": a, "score": s} for a, s in p.top],
            }) + "\n")

    @app.command("evaluate")
    def evaluate_command(
        model: ModelOption,
        data: Annotated[Path, typer.Option("--data", help="JSON lines with text, agency, received_at.")],
        rules: RulesOption = None,
        since: Annotated[
            str | None, typer.Option("--from", help="Test on examples from this ISO date (default: after training).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Accuracy, macro-F1, top-3, share auto-routed and its precision on data after the training cutoff."""
        try:
            result = evaluate(load_model(model), load_examples(data), rules=_rules(rules), test_from=_date(since))
        except ConfigurationError as exc:
            raise _fail(exc) from None
        if as_json:
            typer.echo(json.dumps(asdict(result)))
            return
        for key, value in asdict(result).items():
            typer.echo(f"{key:27} {value}")

    return app


def spam_app(open_store: SpamStoreFactory) -> typer.Typer:
    """The `spam` command group: release or confirm complaints held as suspected spam."""
    app = typer.Typer(no_args_is_help=True, help="Suspected spam held for review.")

    def decide(complaint_id: str, decision: ReviewDecision, operator: str, config: Path | None) -> None:
        try:
            settings = load_settings(config)
        except ConfigurationError as exc:
            raise _fail(exc) from None

        async def run() -> str:
            async with open_store(settings) as store:
                complaint = await store.get(complaint_id)
                if complaint is None:
                    return "not found"
                try:
                    reviewed = review(complaint, decision, operator=operator, at=utcnow())
                except ValueError as exc:
                    return str(exc)
                await store.save_review(reviewed, decision)
                return ""

        problem = asyncio.run(run())
        if problem:
            typer.echo(f"{complaint_id}: {problem}", err=True)
            raise typer.Exit(1)
        typer.echo(f"{complaint_id}: {'released' if decision == 'release' else 'confirmed as spam'}", err=True)

    @app.command("release")
    def release(
        complaint_id: str,
        operator: Annotated[str, typer.Option("--operator", help="Who decided, for the status history.")] = "cli",
        config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    ) -> None:
        """Not spam: file it with the registry and acknowledge the reporter."""
        decide(complaint_id, "release", operator, config)

    @app.command("confirm")
    def confirm(
        complaint_id: str,
        operator: Annotated[str, typer.Option("--operator", help="Who decided, for the status history.")] = "cli",
        config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    ) -> None:
        """Spam: keep it, never file or acknowledge it."""
        decide(complaint_id, "confirm", operator, config)

    return app


app = routing_app()
