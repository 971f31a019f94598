from stone.cli import run

run()
