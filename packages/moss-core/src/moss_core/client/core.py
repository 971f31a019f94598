"""The client: what moss does, as calls. The CLI only parses, asks and prints."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.client import cache, integrity
from moss_core.client.errors import Cancelled, ClientError
from moss_core.client.plan import (
    SyncPlan,
    parse_provider,
    plan_removal,
    plan_sync,
    unknown_package,
)
from moss_core.client.report import Reporter
from moss_core.db import DatabaseError, LayoutDb, MetaDb, Selection, State, StateDb
from moss_core.errors import MossError
from moss_core.fs import remove_tree, sha256_file
from moss_core.installation import MODEL_IN_TREE, Installation
from moss_core.processes import usable_cores
from moss_core.registry import (
    INSTALLED_PRIORITY,
    LOCAL_PRIORITY,
    LOCAL_SOURCE,
    MemorySource,
    Package,
    Registry,
    Source,
)
from moss_core.store import asset_relpath
from stone import LayoutEntry, Meta

# What only a changing command needs (the HTTP stack, pydantic trigger models, the VFS and
# blit) loads on first use: `moss list installed` should start in a blink.
if TYPE_CHECKING:
    from moss_core import fetch, repository, resolve, settings, triggers, vfs
    from moss_core import model as system_model
    from moss_core.client import apply, gc, hooks, rebuild, recycle
    from moss_core.client import boot as boot_glue
    from moss_core.client import verify as checks
    from moss_core.trigger_record import TriggerRecord
else:
    fetch = lazy_import("moss_core.fetch")
    system_model = lazy_import("moss_core.model")
    repository = lazy_import("moss_core.repository")
    resolve = lazy_import("moss_core.resolve")
    settings = lazy_import("moss_core.settings")
    triggers = lazy_import("moss_core.triggers")
    vfs = lazy_import("moss_core.vfs")
    apply = lazy_import("moss_core.client.apply")
    gc = lazy_import("moss_core.client.gc")
    hooks = lazy_import("moss_core.client.hooks")
    rebuild = lazy_import("moss_core.client.rebuild")
    recycle = lazy_import("moss_core.client.recycle")
    boot_glue = lazy_import("moss_core.client.boot")
    checks = lazy_import("moss_core.client.verify")


@dataclass(frozen=True)
class Outcome:
    """What a request did: the packages it planned, and the state it made (if any)."""

    planned: tuple[Package, ...] = ()
    state: State | None = None
    already: tuple[Package, ...] = ()


class Client:
    def __init__(self, installation: Installation, reporter: Reporter, *, read_only: bool = False):
        """`read_only`: for queries, which create no database a root does not have yet."""
        self.installation = installation
        self.reporter = reporter
        db_dir = installation.db_dir
        create = not read_only
        with contextlib.ExitStack() as opened:
            try:
                self.install_db = opened.enter_context(
                    MetaDb.open(db_dir / "install", create=create)
                )
                self.layout_db = opened.enter_context(
                    LayoutDb.open(db_dir / "layout", create=create)
                )
                self.state_db = opened.enter_context(StateDb.open(db_dir / "state", create=create))
            except DatabaseError as err:
                if not integrity.is_unreadable(err):
                    raise
                hint = integrity.rebuild_hint(installation)
                raise integrity.DatabaseLostError(f"{err}: {hint}") from None
            opened.pop_all()
        self._local_files: dict[str, Path] = {}
        self._repositories: list[repository.RepositorySource] | None = None
        self._model: system_model.SystemModel | None = None
        self._settings: settings.Settings | None = None
        # Layouts this client unpacked and recorded, in that order (see `apply.compose`).
        self._recorded: dict[str, list[LayoutEntry]] = {}
        # "Installed …" lines, said once the state holding those packages is live.
        self._installed: list[str] = []

    def moss_settings(self) -> settings.Settings:
        """moss's settings (`moss_core.settings`): how long and how much trigger handlers may
        run and use."""
        if self._settings is None:
            self._settings = settings.load_settings(self.installation)
        return self._settings

    def close(self) -> None:
        self._close_sources()
        self.install_db.close()
        self.layout_db.close()
        self.state_db.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- sources ------------------------------------------------------------------------------

    def active_state(self) -> State | None:
        active = self.installation.active_state_id()
        return self.state_db.get(active) if active is not None else None

    def installed_packages(self) -> list[Package]:
        state = self.active_state()
        if state is None:
            return []
        metas = self.install_db.get_many(s.package_id for s in state.selections)
        return [
            Package(
                s.package_id, metas[s.package_id], "installed", installed=True, explicit=s.explicit
            )
            for s in state.selections
            if s.package_id in metas
        ]

    @property
    def model(self) -> system_model.SystemModel | None:
        """The system model in force: one given with `use_model`, else `etc/moss`'s, if any."""
        if self._model is None:
            path = self.installation.system_model
            if path.exists():
                self._model = system_model.load_model(path)
        return self._model

    def use_model(self, model: system_model.SystemModel) -> None:
        """Make `model` authoritative for this client (`sync --import`)."""
        self._model = model
        self._close_sources()

    def repositories(self) -> list[repository.RepositorySource]:
        """A source per active repository: the model's when there is one, else the configured."""
        if self._repositories is None:
            model = self.model
            if model is None:
                self._repositories = repository.open_sources(self.installation)
            else:
                self._repositories = repository.open_repositories(
                    self.installation, model.repositories
                )
        return self._repositories

    def _close_sources(self) -> None:
        for source in self._repositories or ():
            source.close()
        self._repositories = None

    def refresh_repositories(self) -> None:
        for source in self.repositories():
            count = repository.refresh(self.installation, source.repo)
            self.reporter.info(f"{source.name} updated ({count} packages)")
        self._close_sources()

    def model_text(self, packages: Sequence[Package], explicit: set[str]) -> str:
        """The model of a state: its repositories and its explicit packages, pinned by id."""
        repositories = [s.repo for s in self.repositories()]
        chosen = [p for p in packages if p.id in explicit]
        entries = [(p.name, p.id) for p in sorted(chosen, key=lambda p: p.name)]
        locked = sorted(p.id for p in packages if p.id not in explicit)
        return system_model.render(
            repositories, entries, locked, comment="The packages of this state, by moss"
        )

    def registry(self, local: Sequence[Package] = ()) -> Registry:
        sources: list[Source] = [
            MemorySource(
                "installed", INSTALLED_PRIORITY, self.installed_packages(), installed=True
            ),
            *self.repositories(),
        ]
        if local:
            sources.append(MemorySource(LOCAL_SOURCE, LOCAL_PRIORITY, local))
        for source in sources[1:]:
            self.reporter.detail(f"source {source.name} (priority {source.priority})")
        return Registry(sources)

    def _local_packages(self, arguments: Sequence[str]) -> tuple[list[Package], list[str]]:
        """Split arguments into `.stone` files given by path and provider names."""
        local, names = [], []
        for argument in arguments:
            path = Path(argument)
            if argument.endswith(".stone") and path.is_file():
                package = cache.read_local_package(path)
                self._local_files[package.id] = path
                local.append(package)
            else:
                names.append(argument)
        return local, names

    # -- install ------------------------------------------------------------------------------

    def install(
        self, arguments: Sequence[str], *, dry_run: bool = False, allow_unmet: bool = False
    ) -> Outcome:
        """Install packages named by provider (`nano`, `binary(nano)`) or given as `.stone` files.

        An installed name is left alone (`sync` upgrades), except that a `.stone` file given by
        path replaces the installed package of its name: that is an explicit request. With
        `allow_unmet`, dependencies nothing provides are left unmet (`resolve.resolve`).
        """
        local, names = self._local_packages(arguments)
        registry = self.registry(local)
        installed = {p.name: p for p in registry.installed()}
        wanted = list(local)
        for name in names:
            candidate = registry.first(parse_provider(name))
            if candidate is None:
                raise self._unknown_package(registry, name)
            wanted.append(candidate)
        already: dict[str, Package] = {}
        fresh: dict[str, Package] = {}
        for package in wanted:
            current = installed.get(package.name)
            if current is not None and (current.id == package.id or package.source != LOCAL_SOURCE):
                already[current.id] = current
            else:
                fresh[package.id] = package
        if not fresh:
            return Outcome(already=tuple(already.values()))
        replaced = {installed[p.name].id for p in fresh.values() if p.name in installed}
        previous = {p.id: p for p in installed.values() if p.id not in replaced}
        packages = resolve.resolve(
            registry, [*previous, *fresh], resolve.Lookup.PREFER_INSTALLED, allow_unmet=allow_unmet
        )
        resolve.check_conflicts(packages)
        new = tuple(p for p in packages if p.id not in previous)
        self.reporter.packages("The following package(s) will be installed:", new)
        if dry_run:
            return Outcome(planned=new, already=tuple(already.values()))
        if not self.reporter.confirm("Do you wish to continue?"):
            raise Cancelled()
        explicit = set(fresh) | {p.id for p in previous.values() if p.explicit}
        selections = [Selection(p.id, p.id in explicit) for p in packages]
        state = self._transaction(new, selections, "Install")
        return Outcome(planned=new, state=state, already=tuple(already.values()))

    def _transaction(
        self, fetched: Sequence[Package], selections: Sequence[Selection], summary: str
    ) -> State:
        """Get `fetched` into the store, then make the state of `selections` live.

        If anything fails, the packages recorded on the way that no state selects are
        forgotten again: a failed transaction leaves no rows behind (their files in the store
        and download cache are garbage the next `cache prune` sweeps).
        """
        try:
            self.fetch_and_unpack(fetched)
            return self.new_state(selections, summary)
        except BaseException:
            self._installed.clear()
            self._forget_unselected()
            raise

    def _forget_unselected(self) -> None:
        try:
            doomed = set(self._recorded) - self.state_db.all_package_ids()
            if doomed:
                self.layout_db.remove(doomed)
                self.install_db.remove(doomed)
        except MossError as err:
            # The failure being reported matters more; `cache prune` forgets them later.
            self.reporter.warn(f"could not forget the packages of the failed transaction: {err}")
            return
        for package_id in doomed:
            del self._recorded[package_id]

    def fetch_and_unpack(self, packages: Sequence[Package]) -> None:
        """Download what the cache lacks (8 at a time, each checked against its sha256) and
        unpack each package into the store as soon as it arrives."""
        jobs = []
        for package in packages:
            if cache.is_cached(self.install_db, self.layout_db, package.id):
                self._installed.append(f"Installed {package.name} (cached)")
            else:
                uri = self._package_uri(package)
                jobs.append(
                    fetch.FetchJob(package, uri, self.installation.download_path(package.id))
                )

        if not jobs:
            return
        workers = min(len(jobs), usable_cores())
        # The unpacker forks its workers first, before the fetch starts any thread.
        with self.unpacker(workers) as unpacker:

            def unpack(job: fetch.FetchJob, path: Path) -> None:
                unpacker.unpack(job.package, path)
                self._installed.append(f"Installed {job.package.name}")

            # Twice as many packages in hand as workers: the next is queued while this
            # process reads a package's records, so no worker waits for it.
            fetch.fetch_all(
                jobs,
                unpack,
                unpackers=2 * workers,
                progress=self.reporter.fetch_progress(),
                limits=repository.load_limits(self.installation.root),
            )

    def unpacker(self, workers: int = 1) -> cache.Unpacker:
        return cache.Unpacker(
            self.installation,
            self.install_db,
            self.layout_db,
            workers=workers,
            recorded=self._recorded,
            given_files=self._local_files,
        )

    def find_package(self, package_id: str) -> tuple[Package, Path]:
        """A package by id, with its `.stone`: from the download cache, else fetched from the
        repository that offers it. Its records are read and checked before it is returned."""
        cached = self.installation.download_path(package_id)
        if cached.is_file():
            found = cache.read_local_package(cached)
            if found.id == package_id:
                package = Package(package_id, found.meta, "cache")
                cache.read_records(package, cached)
                return package, cached
        for source in self.repositories():
            offered = source.by_id(package_id)
            if offered is not None:
                path = self._download(offered)
                cache.read_records(offered, path)
                return offered, path
        raise ClientError("neither in the download cache nor in any repository")

    def _package_uri(self, package: Package) -> str:
        if package.id in self._local_files:
            return self._local_files[package.id].absolute().as_uri()
        for source in self.repositories():
            if source.name == package.source:
                return source.package_uri(package)
        raise ClientError(f"{package.name}: no source to fetch it from")

    def _download(self, package: Package) -> Path:
        """One package's `.stone` in the download cache, fetched and checked if need be."""
        cached = self.installation.download_path(package.id)
        if cached.exists() and sha256_file(cached) == package.id:
            return cached
        found: list[Path] = []
        job = fetch.FetchJob(
            package, self._package_uri(package), self.installation.download_path(package.id)
        )
        limits = repository.load_limits(self.installation.root)
        fetch.fetch_all([job], lambda _job, path: found.append(path), limits=limits)
        return found[0]

    # -- sync -------------------------------------------------------------------------------

    def sync_plan(self) -> SyncPlan:
        """What `sync` would do (see `plan.plan_sync`)."""
        return plan_sync(self.registry(), self.model)

    def sync(self, *, dry_run: bool = False) -> Outcome:
        plan = self.sync_plan()
        if not (plan.added or plan.updated or plan.removed):
            self.reporter.info("No packages to sync")
            return Outcome()
        if plan.added:
            self.reporter.packages("The following packages will be added:", plan.added)
        if plan.updated:
            self.reporter.info("The following packages will be updated:")
            self.reporter.info("")
            for old, new in plan.updated:
                self.reporter.info(f"  {new.name} {old.version_text} -> {new.version_text}")
            self.reporter.info("")
        if plan.removed:
            self.reporter.packages("The following orphaned packages will be removed:", plan.removed)
        changed = (*plan.added, *(new for _old, new in plan.updated))
        if dry_run:
            return Outcome(planned=changed)
        if not self.reporter.confirm("Do you wish to continue?"):
            raise Cancelled()
        installed_ids = {p.id for p in self.registry().installed()}
        selections = [Selection(p.id, p.id in plan.explicit) for p in plan.packages]
        state = self._transaction(
            [p for p in plan.packages if p.id not in installed_ids], selections, "Sync"
        )
        return Outcome(planned=changed, state=state)

    def export(self, state_id: int | None = None) -> str:
        """A system model that reproduces a state: its packages pinned by id."""
        state = self.state_db.get(state_id) if state_id is not None else self.active_state()
        if state is None:
            raise ClientError(
                f"state {state_id} doesn't exist"
                if state_id is not None
                else "no active state found"
            )
        metas = self.install_db.get_many(s.package_id for s in state.selections)
        packages = [
            Package(s.package_id, metas[s.package_id], "installed") for s in state.selections
        ]
        return self.model_text(packages, {s.package_id for s in state.selections if s.explicit})

    def fetch(self, arguments: Sequence[str]) -> list[Path]:
        """Download packages (hash checked) into the cache without installing them."""
        registry = self.registry()
        found = []
        for argument in arguments:
            candidate = registry.first(parse_provider(argument), installed=False)
            if candidate is None:
                raise self._unknown_package(registry, argument)
            found.append(candidate)
        return [self._download(package) for package in found]

    def _unknown_package(self, registry: Registry, argument: str) -> ClientError:
        names = [p.name for p in (*registry.installed(), *registry.available())]
        return unknown_package(argument, names, repositories=len(self.repositories()))

    # -- remove -------------------------------------------------------------------------------

    def remove(self, arguments: Sequence[str], *, dry_run: bool = False) -> Outcome:
        removal = plan_removal(self.registry(), arguments)
        removed = removal.removed
        self.reporter.packages("The following package(s) will be removed:", removed)
        if dry_run:
            return Outcome(planned=removed)
        if not self.reporter.confirm("Do you wish to continue?"):
            raise Cancelled()
        selections = [Selection(p.id, p.explicit) for p in removal.keep]
        state = self.new_state(selections, "Remove")
        for package in removed:
            self.reporter.info(f"Removed {package.name}")
        return Outcome(planned=removed, state=state)

    # -- states -------------------------------------------------------------------------------

    def new_state(self, selections: Sequence[Selection], summary: str) -> State:
        """Compose, check, trigger and promote a new state; the live tree changes last.

        The new tree is an archived one with only the change applied when that is known to
        give the same tree (`recycle`), else composed and blitted whole.
        """
        ids = [s.package_id for s in selections]
        metas = self.install_db.get_many(ids)
        previous = apply.check_replaceable(self.installation)
        change = recycle.plan_recycling(
            self.installation, self.state_db, self.layout_db, ids, previous
        )
        composed: list[vfs.Tree] = []

        def tree() -> vfs.Tree:
            if not composed:
                try:
                    composed.append(apply.compose(self.layout_db, ids, self._recorded))
                except vfs.VfsConflictError as err:
                    raise ClientError(_describe_conflicts(err, metas)) from None
            return composed[0]

        if change is None:
            self.reporter.detail("composing the whole tree, then blitting it")
            tree()
        else:
            self.reporter.detail(f"updating the tree of state #{change.source} in place")
        model_text = self.model_text(
            [Package(i, metas[i], "installed") for i in ids],
            {s.package_id for s in selections if s.explicit},
        )
        if change is None:
            staging_usr = apply.blit_staging(self.installation, tree(), self.reporter)
        else:
            staging_usr = recycle.stage(self.installation, change, self.reporter)
        try:
            apply.write_state_files(staging_usr, None, model_text)
            records = self._transaction_triggers(staging_usr, change, tree)
            state = apply.record_state(self.state_db, selections, summary)
            apply.write_state_files(staging_usr, state.id, model_text)
            if records:
                hooks.write_record(staging_usr, state.id, records)
            apply.Journal("transaction", state.id, previous).write(self.installation)
        except BaseException:
            self.recover()
            raise
        apply.promote(
            self.installation, staging_usr, apply.Journal("transaction", state.id, previous)
        )
        for line in self._installed:
            self.reporter.info(line)
        self._installed.clear()
        self._system_triggers(tree)
        self._after_promotion()
        return state

    def _transaction_triggers(
        self, staging_usr: Path, change: recycle.Change | None, tree: Callable[[], vfs.Tree]
    ) -> tuple[TriggerRecord, ...] | None:
        apply.make_root_links(self.installation.isolation_dir)
        (self.installation.root / "etc").mkdir(exist_ok=True)
        runner = functools.partial(
            hooks.transaction_runner,
            self.installation.isolation_dir,
            staging_usr,
            self.installation.root / "etc",
            timeout=self.moss_settings().trigger_timeout,
            limits=self.moss_settings().trigger_limits(),
        )
        return hooks.run_transaction_triggers(
            self.installation.staging_dir,
            None if change is None else change.recorded,
            None if change is None else change.changed,
            tree,
            runner,
            self.reporter,
        )

    def _after_promotion(self) -> None:
        """The one place a change of states reaches the boot partitions (spec boot.md §6):
        the change is done whatever happens here; a failure is the command's error."""
        boot_glue.resync_after_promotion(
            self.installation, self.state_db, self.layout_db, self.reporter
        )

    def _system_triggers(self, tree: Callable[[], vfs.Tree]) -> None:
        runner = functools.partial(
            hooks.system_runner,
            self.installation.isolation_dir,
            self.installation.usr,
            self.installation.root / "etc",
            timeout=self.moss_settings().trigger_timeout,
            limits=self.moss_settings().trigger_limits(),
        )
        hooks.run_triggers(
            triggers.Scope.SYSTEM, self.installation.root, tree, runner, self.reporter
        )

    def activate(
        self, state_id: int, *, skip_triggers: bool = False, skip_boot: bool = False
    ) -> int | None:
        """Make an archived state live again (offline rollback); returns the state it replaced.

        A state whose tree was recycled has its tree blitted again from the store first.
        """
        target = self.state_db.get(state_id)
        if target is None:
            raise ClientError(f"state {state_id} doesn't exist")
        active = self.installation.active_state_id()
        if active == state_id:
            raise ClientError(f"state {state_id} already active")
        package_ids = [s.package_id for s in target.selections]
        archived = self.installation.archived_usr(state_id)
        reblit = not archived.is_dir() and recycle.is_recycled(self.installation, state_id)
        if not archived.is_dir() and not reblit:
            raise ClientError(f"state {state_id} has no archived tree at {archived}")
        previous = apply.check_replaceable(self.installation)
        self.reporter.info(f"State {state_id} will replace the active state {previous}")
        if not self.reporter.confirm("Do you wish to continue?"):
            raise Cancelled()
        journal = apply.Journal("activation", state_id, previous)
        staging_usr = self.installation.staging_dir / "usr"
        if reblit:
            # Written whole before the journal: recovery keeps a tree the journal names.
            self._reblit(target, staging_usr)
            journal.write(self.installation)
        else:
            journal.write(self.installation)
            try:
                remove_tree(staging_usr)
                os.rename(archived, staging_usr)
                with contextlib.suppress(OSError):
                    self.installation.archived_state_dir(state_id).rmdir()
            except BaseException:
                self.recover()
                raise
        apply.promote(self.installation, staging_usr, journal)
        recycle.forget_recycled(self.installation, state_id)
        if not skip_triggers:
            self._system_triggers(lambda: apply.compose(self.layout_db, package_ids))
        if not skip_boot:
            self._after_promotion()
        return previous

    def _reblit(self, state: State, staging_usr: Path) -> None:
        ids = [s.package_id for s in state.selections]
        metas = self.install_db.get_many(ids)
        try:
            tree = apply.compose(self.layout_db, ids)
        except vfs.VfsConflictError as err:
            raise ClientError(_describe_conflicts(err, metas)) from None
        self.reporter.info(f"State #{state.id}'s tree was recycled: blitting it again")
        apply.blit_staging(self.installation, tree, self.reporter)
        try:
            model_text = self.model_text(
                [Package(i, metas[i], "installed") for i in ids],
                {s.package_id for s in state.selections if s.explicit},
            )
            apply.write_state_files(staging_usr, None, model_text)
            records = self._transaction_triggers(staging_usr, None, lambda: tree)
            apply.write_state_files(staging_usr, state.id, model_text)
            if records:
                hooks.write_record(staging_usr, state.id, records)
        except BaseException:
            remove_tree(staging_usr)
            raise

    def prune(
        self, keep: int, *, include_newer: bool = False, dry_run: bool = False
    ) -> list[State]:
        """Remove all but the newest `keep` states (the active one counts), then collect garbage."""
        active = self.installation.active_state_id()
        if active is None:
            raise ClientError("no active state found")
        doomed = gc.prune_candidates(
            self.state_db.list(), active, keep, include_newer=include_newer
        )
        return self._remove_states(doomed, dry_run=dry_run)

    def remove_states(self, state_ids: Sequence[int], *, dry_run: bool = False) -> list[State]:
        active = self.installation.active_state_id()
        if active in state_ids:
            raise ClientError("cannot prune the currently active state")
        found = {i: self.state_db.get(i) for i in dict.fromkeys(state_ids)}
        missing = [str(i) for i, state in found.items() if state is None]
        if missing:
            raise ClientError(f"no such state: {', '.join(missing)}")
        return self._remove_states([s for s in found.values() if s is not None], dry_run=dry_run)

    def _remove_states(self, doomed: list[State], *, dry_run: bool) -> list[State]:
        if not doomed:
            return []
        self.reporter.info("The following state(s) will be removed:")
        for state in doomed:
            self.reporter.info(f"  State {state.id}")
        if dry_run:
            return doomed
        if not self.reporter.confirm("Do you wish to continue?"):
            raise Cancelled()
        gc.remove_states(self.installation, self.state_db, [s.id for s in doomed])
        gc.collect_garbage(self.installation, self.state_db, self.install_db, self.layout_db)
        self._after_promotion()
        return doomed

    def cache_prune(self) -> int:
        """Forget packages and files no state needs; returns how many packages went."""
        return gc.collect_garbage(self.installation, self.state_db, self.install_db, self.layout_db)

    def verify(self, *, repair: bool = True) -> list[str]:
        """Re-hash the store and every state's tree; with `repair`, restore what is wrong.

        What a repair did is checked again: only what is then right is reported as fixed, and
        what is still wrong raises `ClientError` after being listed.
        """
        report = checks.Report()
        self.reporter.info("Verifying assets")
        checks.check_assets(self.installation, self.layout_db, self.layout_db.digests(), report)
        self.reporter.info("Verifying states")
        active = self.installation.active_state_id()
        # A recycled state has no tree to check: activating it blits one afresh.
        states = [
            s
            for s in self.state_db.list()
            if s.id == active or not recycle.is_recycled(self.installation, s.id)
        ]
        trees = {
            s.id: checks.check_state(self.installation, self.layout_db, s, active, report)
            for s in states
        }
        issues = [issue.text for issue in report.issues]
        if not issues:
            self.reporter.info("No issues found")
            return issues
        self.reporter.info(f"Found {len(issues)} issue(s)")
        for text in issues:
            self.reporter.info(f" × {text}")
        if not repair:
            return issues
        if not self.reporter.confirm(
            "Fixing issues, this will change your system state. Do you wish to continue?"
        ):
            raise Cancelled()
        affected = self._repair(report, states, trees, active)
        after = checks.Report()
        checks.check_assets(self.installation, self.layout_db, report.bad_digests, after)
        for state in states:
            if state.id in affected:
                checks.check_state(self.installation, self.layout_db, state, active, after)
        left = [issue.text for issue in after.issues]
        if not left:
            self.reporter.info("All issues resolved")
            return issues
        fixed = len(issues) - len(set(issues) & set(left))
        self.reporter.info(f"Fixed {fixed} of {len(issues)} issue(s); still wrong:")
        for text in left:
            self.reporter.info(f" × {text}")
        raise ClientError(f"{len(left)} issue(s) could not be fixed (listed above)")

    def _repair(
        self,
        report: checks.Report,
        states: list[State],
        trees: dict[int, vfs.Tree],
        active: int | None,
    ) -> set[int]:
        """Restore bad assets from their packages and reblit the states using them; returns
        those states. A package or state that cannot be restored is told and skipped."""
        bad = report.bad_digests
        if bad:
            self.reporter.info("Reinstalling packages")
            owners: set[str] = set()
            for digest in bad:
                with contextlib.suppress(FileNotFoundError):
                    (self.installation.assets_dir / asset_relpath(digest)).unlink()
                owners |= self.layout_db.owners_of_digest(digest)
            metas = self.install_db.get_many(owners)
            selected = self.state_db.all_package_ids()
            with self.unpacker() as unpacker:
                for package_id in sorted(owners):
                    meta = metas.get(package_id)
                    label = meta.name if meta is not None else package_id
                    try:
                        if meta is None:
                            raise ClientError("its metadata is not in the install database")
                        package = Package(package_id, meta, "installed")
                        unpacker.unpack(package, self._download(package))
                    except MossError as err:
                        unused = (
                            ""
                            if package_id in selected
                            else ("; no state selects it: `moss cache prune` forgets it")
                        )
                        self.reporter.warn(f"could not reinstall {label}: {err}{unused}")
        affected = report.bad_states | {
            s.id
            for s in states
            if any(n.digest in bad for n in trees[s.id].walk() if n.digest is not None)
        }
        if affected:
            self.reporter.info("Reblitting affected states")
        for state in states:
            if state.id not in affected:
                continue
            try:
                staging_usr = apply.blit_staging(self.installation, trees[state.id], self.reporter)
            except MossError as err:
                self.reporter.warn(f"could not reblit state #{state.id}: {err}")
                continue
            apply.write_state_files(staging_usr, state.id, self._state_model(state, active))
            if state.id == active:
                journal = apply.Journal("repair", state.id, None)
                journal.write(self.installation)
                apply.promote(self.installation, staging_usr, journal)
            else:
                archive = self.installation.archived_usr(state.id)
                remove_tree(archive)
                archive.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging_usr, archive)
            self.reporter.info(f" » state #{state.id}")
        return affected

    def _state_model(self, state: State, active: int | None) -> str:
        """The model a state's tree holds: its own record of its packages (see `rebuild`),
        kept through a reblit; made afresh only where the tree lost it."""
        model_path = checks.state_tree_root(self.installation, state, active) / MODEL_IN_TREE
        with (
            contextlib.suppress(OSError, UnicodeDecodeError),
            open(model_path, encoding="utf-8", opener=_no_follow) as model,
        ):
            return model.read()
        metas = self.install_db.get_many(s.package_id for s in state.selections)
        return self.model_text(
            [
                Package(s.package_id, metas[s.package_id], "installed")
                for s in state.selections
                if s.package_id in metas
            ],
            {s.package_id for s in state.selections if s.explicit},
        )

    def check_databases(self) -> None:
        """Refuse a root whose databases have lost what its trees hold (see `rebuild`)."""
        lost = integrity.lost_databases(
            integrity.gather_evidence(
                self.installation, self.state_db, self.install_db, self.layout_db
            ),
            self.installation.db_dir,
        )
        if lost:
            raise integrity.DatabaseLostError(
                f"{'; '.join(lost)}: {integrity.rebuild_hint(self.installation)}"
            )

    def rebuild_databases(self) -> rebuild.RebuildPlan:
        """Record again the packages and states the trees on disk hold (`rebuild.rebuild`)."""
        return rebuild.rebuild(self)

    def recover(self) -> None:
        apply.recover(self.installation, self.state_db, self.reporter)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)


def _describe_conflicts(error: vfs.VfsConflictError, metas: Mapping[str, Meta]) -> str:
    """Conflicts on one line, packages by name and version rather than by sha256."""

    def label(package_id: str) -> str:
        meta = metas.get(package_id)
        return f"{meta.name} {meta.version}-{meta.release}" if meta else package_id

    shown = [c.describe(*(label(i) for i in c.package_ids)) for c in error.conflicts[:5]]
    more = len(error.conflicts) - len(shown)
    return "file conflicts: " + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
