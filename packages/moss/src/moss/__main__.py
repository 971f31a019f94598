from moss.cli import run
from moss_core.frozen import serve_as_helper

serve_as_helper()
run()
