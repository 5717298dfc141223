using System.Text.Json;
using System.Text.Json.Serialization;
using AdCtr.Server.Api;
using Microsoft.AspNetCore.Mvc;

namespace AdCtr.Server.Hosting;

/// <summary>Source-generated JSON for every response type of the API.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ExamplesResponse))]
[JsonSerializable(typeof(ExplainResponse))]
[JsonSerializable(typeof(CampaignSummary))]
[JsonSerializable(typeof(CampaignPage))]
[JsonSerializable(typeof(ModelSummary))]
[JsonSerializable(typeof(ClusterResponse))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
[JsonSerializable(typeof(List<RejectedLine>))]
[JsonSerializable(typeof(PredictRequestDocument))]
[JsonSerializable(typeof(PredictResponseDocument))]
[JsonSerializable(typeof(ExampleDocument[]))]
internal sealed partial class AdCtrJsonContext : JsonSerializerContext;

internal sealed record HealthReport(string Status, string? Reason);
