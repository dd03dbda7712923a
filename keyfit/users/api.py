from ninja import Router, Schema

from keyfit.core.api_utils import actor

router = Router(tags=["Users"])


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    team_id: int | None
    language: str
    timezone: str


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request):
    return actor(request)
