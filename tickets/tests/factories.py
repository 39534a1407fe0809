"""factory_boy factories for tickets. Tests set up with these and act through the API."""

import factory
from django.db.models import F

from accounts.tests.factories import UserFactory
from tickets.models import Comment, Membership, Project, Role, Ticket


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    key = factory.Sequence(lambda n: f"P{n}X")
    name = factory.Faker("catch_phrase")
    created_by = factory.SubFactory(UserFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket numbered like the service numbers them (the project's counter is advanced too)."""

    class Meta:
        model = Ticket

    project = factory.SubFactory(ProjectFactory)
    title = factory.Faker("sentence", nb_words=5)
    description = factory.Faker("paragraph")
    reporter = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        project = kwargs["project"]
        project.last_ticket_number += 1
        project.save(update_fields=["last_ticket_number"])
        kwargs.setdefault("number", project.last_ticket_number)
        kwargs.setdefault("key", f"{project.key}-{kwargs['number']}")
        return super()._create(model_class, *args, **kwargs)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Faker("paragraph")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Counted on its ticket like the service counts it, so deleting it through the API works."""
        comment = super()._create(model_class, *args, **kwargs)
        Ticket.objects.filter(pk=comment.ticket_id).update(comment_count=F("comment_count") + 1)
        comment.ticket.comment_count += 1
        return comment
