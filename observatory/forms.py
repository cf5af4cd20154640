"""Forms of the observatory's pages (the REST API validates everything else)."""

from django import forms

from characters.models import Ecosystem


class EcosystemCreateForm(forms.ModelForm):
    class Meta:
        model = Ecosystem
        fields = ("name", "description")
        widgets = {
            "name": forms.TextInput(
                attrs={"placeholder": "e.g. Harbor Town", "autocomplete": "off"}
            ),
            "description": forms.Textarea(
                attrs={"rows": 2, "placeholder": "What kind of place is it? (optional)"}
            ),
        }

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the ecosystem a name.")
        return name
