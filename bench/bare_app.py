"""The ceiling: a bare 5-line FastAPI app, served by the same `quanzi serve` settings as ours."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/api/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
