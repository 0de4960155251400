"""office_to_pdf: one LibreOffice kept warm in each worker process, so a service with N
workers converts N documents at once (Gotenberg serialises one per container).

Each instance gets a fresh user profile that disables macros and blocks linked content
(``BlockUntrustedRefererLinks``: no image or object is read from a path or URL a
document names), talks to its driver over a UNO pipe rather than a TCP port, and runs in
a network namespace of its own where the system allows one (``unshare --net``), so a
document can fetch nothing. It is replaced every ``recycle_after`` documents and after
a crash; on a timeout the runtime kills the worker's process group, LibreOffice in it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import IO

from transmute_common import archives
from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput, TransmuteError
from transmute_pdf.document import open_pdf
from transmute_pdf.task import PdfTask

DRIVER = Path(__file__).with_name("office_driver.py")
# Office formats that are zip archives: their entries are checked before LibreOffice
# unpacks them (a zip bomb named .docx is refused).
ZIPPED = {"docx", "xlsx", "pptx", "odt", "ods", "odp"}
_SCRIPTING = "/org.openoffice.Office.Common/Security/Scripting"
_SETTINGS = [
    (_SCRIPTING, "MacroSecurityLevel", "3"),  # very high: only signed, trusted macros
    (_SCRIPTING, "DisableMacrosExecution", "true"),  # and not even those
    (_SCRIPTING, "BlockUntrustedRefererLinks", "true"),  # no linked images or objects
    ("/org.openoffice.Office.Recovery/AutoSave", "Enabled", "false"),
]
PROFILE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry">\n'
    + "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse">'
        f"<value>{value}</value></prop></item>\n"
        for path, name, value in _SETTINGS
    )
    + "</oor:items>\n"
)
# The import filter for each format the job was accepted as: LibreOffice reads the
# bytes as that format or not at all (it would otherwise open anything as plain text).
IMPORT_FILTERS = {
    "docx": "MS Word 2007 XML",
    "doc": "MS Word 97",
    "odt": "writer8",
    "rtf": "Rich Text Format",
    "xlsx": "Calc MS Excel 2007 XML",
    "ods": "calc8",
    "pptx": "Impress MS PowerPoint 2007 XML",
    "odp": "impress8",
    "html": "HTML (StarWriter)",
}


@cache
def network_namespaces() -> bool:
    """Whether this process may start programs without a network (``unshare --net``)."""
    try:
        subprocess.run(["unshare", "--net", "true"], check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def check_archive(path: Path, max_entries: int, max_bytes: int) -> None:
    """Refuses an office archive that would unpack to too much, before LibreOffice."""
    archives.check_archive(path, max_entries, max_bytes, "document", "invalid_document")


def _kill_running_with(argument: str) -> None:
    """Kills what is left of an instance: each of its processes names its profile."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if argument in (proc / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(proc.name), signal.SIGKILL)


class Office:
    """A LibreOffice instance, started on first use and replaced as needed."""

    def __init__(self, soffice: str, python: str, recycle_after: int) -> None:
        self.soffice = shutil.which(soffice) or soffice
        self.python = python
        self.recycle_after = recycle_after
        self.converted = 0
        self._since_start = 0
        self.starts = 0
        self._driver: subprocess.Popen[str] | None = None
        self.profile: Path | None = None
        self._log: IO[bytes] | None = None

    def missing(self) -> str | None:
        """Why LibreOffice cannot run here, or None when it can."""
        if shutil.which(self.soffice) is None:
            return f"{self.soffice} not found"
        try:
            subprocess.run(
                [self.python, "-c", "import uno"], check=True, capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return f"{self.python} cannot import uno (python3-uno)"
        return None

    def convert(self, source: Path, fmt: str, output: Path) -> None:
        driver = self._driver or self._start()
        assert driver.stdin is not None and driver.stdout is not None
        request = {
            "input": str(source.absolute()),
            "filter": IMPORT_FILTERS[fmt],
            "output": str(output.absolute()),
        }
        try:
            driver.stdin.write(json.dumps(request) + "\n")
            driver.stdin.flush()
            line = driver.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.close()
            raise TransmuteError("LibreOffice stopped while converting", code="office_crashed")
        self.converted += 1
        self._since_start += 1
        if self._since_start >= self.recycle_after:
            self.close()  # the next document gets a fresh instance and profile
        answer = json.loads(line)
        if not answer["ok"]:
            message = "LibreOffice could not read the document"
            if answer["code"] == "engine_failure":
                message = "LibreOffice could not write the PDF"
            raise InvalidInput(f"{message} ({answer['error']})", code=answer["code"])
        if not output.is_file() or output.stat().st_size == 0:
            raise InvalidInput("LibreOffice wrote no PDF", code="invalid_document")

    @property
    def pid(self) -> int | None:
        return self._driver.pid if self._driver else None

    def _start(self) -> subprocess.Popen[str]:
        # Outside the job directory (removed when a job ends): the instance outlives jobs.
        self.profile = Path(tempfile.mkdtemp(prefix="transmute-office-", dir=Path.home()))
        user = self.profile / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(PROFILE)
        pipe = f"transmute-office-{os.getpid()}-{self.starts}"
        office = [
            self.soffice,
            "--headless",
            "--invisible",
            "--nocrashreport",
            "--nodefault",
            "--nologo",
            "--nofirststartwizard",
            "--norestore",
            f"-env:UserInstallation={self.profile.as_uri()}",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ]
        if network_namespaces():
            office = ["unshare", "--net", *office]
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        # Its own temp folder: the job's (the worker's TMPDIR) is removed when the job ends.
        (self.profile / "tmp").mkdir()
        env.update(HOME=str(self.profile), TMPDIR=str(self.profile / "tmp"))
        self._log = (self.profile / "office.log").open("wb")
        self.starts += 1
        self._since_start = 0
        driver = subprocess.Popen(
            [self.python, str(DRIVER), pipe, "--", *office],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            cwd=self.profile,
        )
        assert driver.stdout is not None
        ready = driver.stdout.readline()
        if not ready:
            self._driver = driver
            self.close()
            raise TransmuteError("LibreOffice did not start", code="office_unavailable")
        self._driver = driver
        return driver

    def close(self) -> None:
        """Asks LibreOffice to quit (the driver ends it when its input closes)."""
        driver, self._driver = self._driver, None
        if driver is not None:
            with contextlib.suppress(OSError):
                assert driver.stdin is not None
                driver.stdin.close()
            try:
                driver.wait(timeout=15)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
        if self.profile is not None:
            _kill_running_with(str(self.profile))
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None


def office_to_pdf(task: PdfTask, office: Office) -> list[OutputFile]:
    source = task.source
    if source.format in ZIPPED:
        check_archive(
            source.path, task.settings.max_archive_entries, task.settings.max_archive_bytes
        )
    task.progress(0.1, "starting LibreOffice" if office.pid is None else "converting")
    out = task.output("output.pdf")
    office.convert(source.path, source.format, out)
    task.progress(0.9, "checking the PDF")
    with open_pdf(out, None, task.settings.max_pages) as pdf:
        pages = len(pdf.pages)
    size = out.stat().st_size
    return [OutputFile(out, out.name, "application/pdf", {"pages": pages, "size": size})]
