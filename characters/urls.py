from rest_framework.routers import SimpleRouter

from .apis import CharacterViewSet, EcosystemViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("ecosystems", EcosystemViewSet, basename="ecosystem")
router.register("characters", CharacterViewSet, basename="character")

urlpatterns = router.urls
