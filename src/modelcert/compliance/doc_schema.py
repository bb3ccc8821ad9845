"""The union documentation schema: HF model card ∪ CycloneDX modelCard ∪ EU Model Documentation Form.

Each field says where it may be found — front-matter keys, section headings (synonyms), `Label: value`
lines, CycloneDX `modelCard` paths, or a separate file — and which schemas define it. Which fields a
profile requires is policy, so it lives in the pack (`doc.completeness` → `fields`), not here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldDef:
    id: str
    title: str
    sources: tuple[str, ...]  # hf, cyclonedx, eu-mdf, nist, cn
    front_matter: tuple[str, ...] = ()
    headings: tuple[str, ...] = ()  # lower-case words; one word = the whole heading, more = contained
    labels: tuple[str, ...] = ()
    cyclonedx: tuple[str, ...] = ()  # dotted paths inside modelCard
    files: tuple[str, ...] = ()  # lower-case base names without extension


FIELDS: tuple[FieldDef, ...] = (
    FieldDef(
        "model_name", "Model name", ("hf", "eu-mdf"), front_matter=("model_name",), labels=("model name",)
    ),
    FieldDef(
        "developer",
        "Provider / developer",
        ("hf", "eu-mdf"),
        front_matter=("model_creator", "developers", "developer", "provider"),
        labels=("developed by", "provider", "developer", "model developer", "created by"),
    ),
    FieldDef(
        "release_date",
        "Release date",
        ("eu-mdf",),
        front_matter=("release_date",),
        labels=("release date", "released", "model release date"),
    ),
    FieldDef(
        "model_description",
        "Model description",
        ("hf", "cyclonedx", "eu-mdf"),
        headings=(
            "model details",
            "model description",
            "model summary",
            "overview",
            "model overview",
            "description",
            "about",
        ),
        cyclonedx=("modelParameters.task",),
    ),
    FieldDef(
        "architecture",
        "Architecture and design",
        ("hf", "cyclonedx", "eu-mdf"),
        front_matter=("architecture", "model_type"),
        headings=("model architecture", "architecture", "technical specifications", "model type"),
        labels=("architecture", "model architecture", "model type"),
        cyclonedx=("modelParameters.modelArchitecture", "modelParameters.architectureFamily"),
    ),
    FieldDef(
        "model_size",
        "Total size / parameter count",
        ("eu-mdf",),
        front_matter=("parameters", "num_parameters", "parameter_count", "params", "model_size"),
        labels=("parameters", "number of parameters", "parameter count", "model size", "params"),
    ),
    FieldDef(
        "context_length",
        "Input/output size (context length)",
        ("eu-mdf",),
        front_matter=("context_length", "max_context_length", "context_window", "max_position_embeddings"),
        labels=("context length", "context window", "maximum context length", "max sequence length"),
    ),
    FieldDef(
        "modalities",
        "Input and output modalities",
        ("hf", "cyclonedx", "eu-mdf"),
        front_matter=("pipeline_tag", "modalities"),
        labels=("modalities", "input", "output"),
        cyclonedx=("modelParameters.inputs", "modelParameters.outputs"),
    ),
    FieldDef(
        "license", "Licence", ("hf", "eu-mdf"), front_matter=("license",), labels=("license", "licence")
    ),
    FieldDef(
        "intended_uses",
        "Intended uses",
        ("hf", "cyclonedx", "eu-mdf"),
        headings=("uses", "intended use", "intended uses", "direct use", "use cases", "intended purpose"),
        cyclonedx=("considerations.useCases",),
    ),
    FieldDef(
        "out_of_scope",
        "Out-of-scope and prohibited uses",
        ("hf", "eu-mdf"),
        headings=("out of scope", "out-of-scope", "prohibited uses", "misuse", "not intended"),
    ),
    FieldDef(
        "acceptable_use_policy",
        "Acceptable-use policy",
        ("eu-mdf",),
        headings=("acceptable use", "use policy", "usage policy"),
        files=("use_policy", "acceptable_use_policy", "usage_policy", "acceptable-use-policy"),
    ),
    FieldDef(
        "how_to_use",
        "Integration: how to use, hardware/software needs",
        ("hf", "eu-mdf"),
        headings=(
            "how to get started",
            "usage",
            "how to use",
            "quickstart",
            "quick start",
            "getting started",
            "integration",
        ),
    ),
    FieldDef(
        "limitations",
        "Limitations, risks and biases",
        ("hf", "cyclonedx", "nist"),
        headings=("limitations", "bias risks", "risks and limitations", "known limitations", "caveats"),
        cyclonedx=("considerations.technicalLimitations",),
    ),
    FieldDef(
        "training_data",
        "Training data",
        ("hf", "eu-mdf", "cn"),
        front_matter=("datasets",),
        headings=("training data", "data", "datasets", "training dataset"),
        cyclonedx=("modelParameters.datasets",),
    ),
    FieldDef(
        "training_procedure",
        "Training process",
        ("hf", "eu-mdf"),
        headings=("training procedure", "training details", "training", "training process"),
    ),
    FieldDef(
        "training_content_summary",
        "Public summary of training content (EU AI Act Art. 53(1)(d))",
        ("eu-mdf",),
        headings=(
            "training content",
            "summary of training content",
            "training data summary",
            "public summary",
        ),
        files=("training_data_summary", "training_content_summary"),
    ),
    FieldDef(
        "data_provenance",
        "Data provenance and curation",
        ("eu-mdf", "nist", "cn"),
        headings=(
            "data provenance",
            "data sources",
            "data collection",
            "data curation",
            "preprocessing",
            "corpus safety",
        ),
        labels=("data sources", "data provenance"),
    ),
    FieldDef(
        "compute",
        "Training compute",
        ("eu-mdf",),
        front_matter=("training_compute_flops", "training_flops", "compute"),
        headings=("compute", "compute infrastructure", "training compute", "hardware"),
        labels=("training compute", "compute", "hardware type", "training flops"),
    ),
    FieldDef(
        "environmental",
        "Energy and environmental impact",
        ("hf", "cyclonedx", "eu-mdf", "nist"),
        front_matter=("co2_eq_emissions", "energy_consumption"),
        headings=("environmental impact", "energy", "energy consumption", "carbon emissions"),
        cyclonedx=("considerations.environmentalConsiderations",),
    ),
    FieldDef(
        "evaluation",
        "Evaluation results",
        ("hf", "cyclonedx", "eu-mdf", "nist"),
        front_matter=("model-index", "eval_results"),
        headings=("evaluation", "results", "evaluation results", "benchmarks", "performance"),
        cyclonedx=("quantitativeAnalysis.performanceMetrics",),
    ),
    FieldDef(
        "copyright_policy",
        "Copyright policy (EU AI Act Art. 53(1)(c))",
        ("eu-mdf",),
        headings=("copyright", "copyright policy"),
        files=("copyright_policy", "copyright"),
    ),
    FieldDef(
        "risk_assessment",
        "Systemic-risk assessment",
        ("eu-mdf", "cn"),
        headings=("risk assessment", "safety", "systemic risk", "safety and security", "risks"),
        files=("safety_report", "model_report"),
    ),
    FieldDef(
        "mitigations",
        "Safety mitigations",
        ("eu-mdf", "cn"),
        headings=("mitigations", "safety mitigations", "risk mitigation", "safeguards"),
    ),
    FieldDef(
        "security",
        "Security of the model and its release",
        ("eu-mdf",),
        headings=("security", "cybersecurity", "model security"),
        files=("security",),
    ),
    FieldDef(
        "contact",
        "Contact and incident reporting",
        ("hf", "eu-mdf", "nist", "cn"),
        headings=("contact", "model card contact", "reporting issues", "incident reporting", "feedback"),
        labels=("contact",),
    ),
    FieldDef(
        "content_labelling",
        "Labelling of generated content (GB 45438-2025)",
        ("cn",),
        headings=(
            "content labelling",
            "content labeling",
            "watermark",
            "watermarking",
            "ai generated content labelling",
        ),
    ),
    FieldDef("citation", "Citation", ("hf",), headings=("citation",)),
)

BY_ID = {f.id: f for f in FIELDS}
