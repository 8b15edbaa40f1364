from ordermesh.cli.main import app

app(prog_name="ordermesh")
