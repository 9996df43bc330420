from django import forms

from progress_tracking.models import Knowledge


class KnowledgeForm(forms.ModelForm):
    class Meta:
        model = Knowledge
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
