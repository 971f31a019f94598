from moss.cli import run
from moss_core.container.frozen import serve_as_helper

serve_as_helper()
run()
