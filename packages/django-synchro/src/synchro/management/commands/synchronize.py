"""``manage.py synchronize``: send everything logged since the last checkpoint to REMOTE."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from synchro.checkpoints import node_id, read_checkpoint
from synchro.core import call_synchronize, prune_logs, retry_failed
from synchro.gaps import Gaps
from synchro.results import Summary, SyncError
from synchro.settings import synchro_settings


class Command(BaseCommand):
    help = "Synchronize objects logged since the last checkpoint between LOCAL and SYNCHRO_REMOTE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument(
            "--batch-size", type=int, help="Log entries per transaction (SYNCHRO_BATCH_SIZE)."
        )
        parser.add_argument(
            "--models",
            nargs="+",
            metavar="APP.MODEL",
            help="Synchronize only these models now (the checkpoint stays where it is).",
        )
        parser.add_argument(
            "--direction",
            choices=["push", "pull", "both"],
            default="push",
            help="push: LOCAL to REMOTE (default); pull: REMOTE to LOCAL; both.",
        )
        parser.add_argument(
            "--continue-on-error",
            action="store_true",
            help="Put failing changes aside (listed as failed) instead of stopping.",
        )
        parser.add_argument(
            "--retry-failed", action="store_true", help="Log the changes put aside earlier again first."
        )
        parser.add_argument(
            "--prune", action="store_true", help="Afterwards delete LOCAL log entries already synchronized."
        )
        parser.add_argument("--no-progress", action="store_true", help="Never draw the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError(_("--batch-size must be a positive integer"))
        models = self._models(options["models"]) if options["models"] else None
        if not synchro_settings.REMOTE_CONFIGURED:  # as call_synchronize(): a RuntimeWarning, nothing else
            call_synchronize(options["direction"])
            return
        if options["retry_failed"]:
            directions = ["push", "pull"] if options["direction"] == "both" else [options["direction"]]
            count = sum(retry_failed(d) for d in directions)
            self.stdout.write(_("%(count)d failed changes logged again.") % {"count": count})
        show = not options["no_progress"] and self.stdout.isatty()
        try:
            summary = call_synchronize(
                options["direction"],
                batch_size=options["batch_size"],
                models=models,
                dry_run=options["dry_run"],
                continue_on_error=options["continue_on_error"],
                progress=self._draw if show else None,
            )
        except SyncError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if show:
                self.stdout.write("")
        self._report(summary)
        if options["prune"] and not options["dry_run"]:
            self._prune()
        if summary.failed:
            raise CommandError(_("%(count)d changes failed") % {"count": summary.failed})

    def _models(self, names: list[str]) -> list[type[Model]]:
        models = []
        for name in names:
            try:
                models.append(apps.get_model(name))
            except (LookupError, ValueError):
                raise CommandError(
                    _("Unknown model %(name)r (use app_label.ModelName)") % {"name": name}
                ) from None
        return models

    def _report(self, summary: Summary) -> None:
        for error in summary.errors:
            self.stderr.write(error)
        for conflict in summary.conflicts:
            self.stdout.write(
                _("conflict: %(model)s %(pk)s changed on both sides, kept the %(winner)s version")
                % {"model": conflict.model._meta.label, "pk": conflict.source_pk, "winner": conflict.winner}
            )
        self.stdout.write(str(summary))

    def _prune(self) -> None:
        remote = synchro_settings.REMOTE
        checkpoint = read_checkpoint(remote, node_id(synchro_settings.LOCAL)) if remote else None
        if checkpoint:
            pruned = prune_logs(
                synchro_settings.LOCAL, checkpoint.position, timezone.now(), awaiting=Gaps(checkpoint.gaps)
            )
            self.stdout.write(_("%(count)d synchronized log entries pruned.") % {"count": pruned})

    def _draw(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}", ending=""
        )
        self.stdout.flush()
