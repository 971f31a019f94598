from boulder.cli import main
from moss_core.container.frozen import serve_as_helper

serve_as_helper()
main()
