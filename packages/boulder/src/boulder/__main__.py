from boulder.cli import main
from moss_core.frozen import serve_as_helper

serve_as_helper()
main()
