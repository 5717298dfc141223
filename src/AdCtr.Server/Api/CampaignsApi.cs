using AdCtr.Server.Model;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AdCtr.Server.Api;

/// <summary><c>GET /v1/campaigns</c>, <c>GET /v1/campaigns/{id}</c> and <c>GET /v1/models</c>.</summary>
internal static class CampaignsApi
{
    public const int MaxPageSize = 1000;

    public static RouteGroupBuilder MapCampaignsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1");
        group.MapGet("/campaigns/{id}", GetAsync).WithName("Campaign").WithSummary("Model and traffic statistics of one campaign")
            .Produces<CampaignSummary>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/campaigns", ListAsync).WithName("Campaigns").WithSummary("Campaigns with a model, sorted by id (or ?sort=examples|clicks, busiest first), paged");
        group.MapGet("/models", Models).WithName("Models").WithSummary("The model: version, spec, sizes, calibration");
        return group;
    }

    internal static async Task<IResult> GetAsync(string id, CtrEngine engine)
    {
        CampaignSummary? summary;
        try
        {
            summary = await engine.GetCampaignAsync(id).ConfigureAwait(false);
        }
        catch (Exception e) when (GrainFailures.IsUnavailable(e))
        {
            // E.g. the grain's silo died and Orleans has not declared it dead yet: 503 with Retry-After, not a 500.
            return GrainFailures.Problem(e);
        }

        return summary is null
            ? Problems.NotFound("unknown campaign", "campaign '" + id + "' has no model yet (no example of it was learned); predictions for it use the global model")
            : TypedResults.Ok(summary);
    }

    internal static async Task<Results<Ok<CampaignPage>, ProblemHttpResult>> ListAsync(CtrEngine engine, int? offset, int? limit, string? sort)
    {
        var skip = offset ?? 0;
        var take = limit ?? 100;
        if (skip < 0)
        {
            return Problems.BadRequest("invalid paging", "offset must be >= 0");
        }

        if (take is < 1 or > MaxPageSize)
        {
            return Problems.BadRequest("invalid paging", "limit must be in 1.." + MaxPageSize);
        }

        if (!ConsolePage.CampaignRanking.TryParse(sort, out var order))
        {
            return Problems.BadRequest("invalid sort", "sort must be id, examples or clicks");
        }

        if (order != ConsolePage.CampaignSort.Id)
        {
            var (total, ranked) = ConsolePage.CampaignRanking.Page(engine, order, skip, take);
            return TypedResults.Ok(new CampaignPage(total, skip, take, ranked));
        }

        var ids = engine.CampaignIds().ToList();
        ids.Sort(StringComparer.Ordinal);
        var page = new List<CampaignSummary>();
        for (var i = skip; i < Math.Min(ids.Count, skip + take); i++)
        {
            if (await engine.GetCampaignAsync(ids[i]).ConfigureAwait(false) is { } summary)
            {
                page.Add(summary);
            }
        }

        return TypedResults.Ok(new CampaignPage(ids.Count, skip, take, page));
    }

    internal static Ok<ModelSummary> Models(CtrEngine engine, Microsoft.Extensions.Options.IOptions<Joiner.JoinerOptions> joinerOptions)
    {
        var joiner = joinerOptions.Value;
        var (coordinates, bytes) = engine.CampaignModelSize();
        var stats = engine.GlobalStatistics();
        return TypedResults.Ok(new ModelSummary(
            engine.ExamplesLearned,
            new SpecSummary(engine.Spec.Name, engine.Spec.Bits, engine.Spec.HashSeed, engine.Spec.Fingerprint().ToString("x16", System.Globalization.CultureInfo.InvariantCulture), engine.Spec.Fields.Length, engine.Spec.Crosses.Length),
            new PartSummary(engine.Global.Coordinates, engine.Global.MemoryBytes),
            new CampaignsSummary(engine.KnownCampaigns, coordinates, bytes),
            new QualitySummary(stats.Examples, Finite(stats.LogLoss), Finite(stats.NormalizedEntropy), Finite(stats.CalibrationRatio)),
            new CalibrationSummary(engine.Calibration.Current.GetType().Name, engine.Calibration.Fits),
            new JoinerSummary(joiner.Enabled, joiner.Policy, joiner.AttributionWindow.TotalSeconds)));
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}

internal sealed record CampaignPage(int Total, int Offset, int Limit, List<CampaignSummary> Campaigns);

internal sealed record SpecSummary(string Name, int Bits, uint HashSeed, string Fingerprint, int Fields, int Crosses);

internal sealed record PartSummary(long Coordinates, long Bytes);

internal sealed record CampaignsSummary(int Count, long Coordinates, long Bytes);

internal sealed record QualitySummary(long Examples, double? LogLoss, double? NormalizedEntropy, double? CalibrationRatio);

internal sealed record CalibrationSummary(string Calibrator, long Fits);

/// <summary>How events become examples: clients (e.g. <c>adctr-sim drive</c>) need the policy and window to read results.</summary>
internal sealed record JoinerSummary(bool Enabled, string Policy, double AttributionWindowSeconds);

internal sealed record ModelSummary(long Version, SpecSummary Spec, PartSummary Global, CampaignsSummary Campaigns, QualitySummary Progressive, CalibrationSummary Calibration, JoinerSummary Joiner);
