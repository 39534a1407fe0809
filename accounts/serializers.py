"""Input and output shapes of the accounts API."""

from rest_framework import serializers

from accounts.models import User


class UserSerializer(serializers.ModelSerializer):
    """The user as the API shows it; `full_name` and `notification_email` can be changed (email changes
    need verification)."""

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "date_joined", "notification_email"]
        read_only_fields = ["id", "email", "date_joined"]
        extra_kwargs = {"full_name": {"min_length": 1, "max_length": 150}}


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(min_length=1, max_length=150)
    invitation = serializers.CharField(
        max_length=200,
        required=False,
        help_text=(
            "The token of an invitation link (its `invitation` parameter): the new account joins that "
            "project with the invited role. `email` must be the invited address."
        ),
    )


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    """Documentation shape of the login and refresh answers."""

    access = serializers.CharField()
    refresh = serializers.CharField()
