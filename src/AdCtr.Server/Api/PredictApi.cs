using System.Buffers;
using System.Text.Json;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;

namespace AdCtr.Server.Api;

/// <summary><c>POST /v1/predict</c> and <c>POST /v1/explain</c>.</summary>
internal static class PredictApi
{
    public static RouteGroupBuilder MapPredictApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1");
        var predict = new PredictEndpoint(routes.ServiceProvider);
        group.MapPost("/predict", (Func<HttpContext, Task>)predict.HandleAsync)
            .WithName("Predict")
            .WithTags(nameof(PredictApi)) // as when the handler was a method of this class
            .WithSummary("Calibrated click probability of each candidate ad, in candidate order")
            .Accepts<PredictRequestDocument>("application/json")
            .Produces<PredictResponseDocument>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapPost("/explain", ExplainApi.ExplainAsync)
            .WithName("Explain")
            .WithSummary("Top contributing features of one candidate's prediction (global and campaign parts)")
            .Accepts<PredictRequestDocument>("application/json")
            .Produces<ExplainResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    /// <summary>
    /// The predict handler, bound to the engine and metrics once: a handler taking only the <see cref="HttpContext"/>
    /// makes the route's request delegate call it directly, where services as parameters were resolved on every
    /// request through <c>RequestServices</c> (which creates a DI scope per request) and an <see cref="IResult"/>
    /// return was executed after it. Resolved on the first request, not at mapping: the engine needs the silo.
    /// </summary>
    private sealed class PredictEndpoint(IServiceProvider services)
    {
        private CtrEngine? _engine;
        private ServerMetrics? _metrics;

        public Task HandleAsync(HttpContext context) =>
            PredictAsync(context, _engine ??= services.GetRequiredService<CtrEngine>(), _metrics ??= services.GetRequiredService<ServerMetrics>());
    }

    internal static async Task PredictAsync(HttpContext context, CtrEngine engine, ServerMetrics metrics)
    {
        using var body = await RequestBody.ReadAsync(context.Request, engine.Limits.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body.Error is not null)
        {
            await body.Error.ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var scratch = engine.RentScratch();
        try
        {
            var request = scratch.Request;
            if (!scratch.Parser.TryParse(body.Span, request, out var error))
            {
                await Problems.BadRequest("invalid predict request", error).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }

            if (!ResolveCampaigns(engine, scratch))
            {
                // Campaigns with a stored model but no active grain: one activation call each, then their models are in the view.
                // In a cluster, campaigns not active here with no replica yet: one replica fetch each (later requests read it).
                if (await ActivateAsync(engine, scratch).ConfigureAwait(false) is { } unavailable)
                {
                    await unavailable.ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
            }

            Score(engine, scratch);

            // The response is encoded into the scratch's buffer first, so that it goes out with a Content-Length in
            // one write (no chunked framing and no separate last chunk); the writer is the scratch's, reset.
            var output = scratch.Output;
            output.ResetWrittenCount();
            var writer = scratch.Writer(output);
            WriteResponse(engine, scratch, writer);
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            response.ContentLength = output.WrittenCount;
            response.BodyWriter.Write(output.WrittenSpan);
            metrics.PredictionsServed(request.CandidateCount);
        }
        finally
        {
            engine.ReturnScratch(scratch);
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Finds each candidate's campaign model in the silo's view (no grain call) into the scratch. False when some
    /// campaign has a stored model but no active grain; their keys are in <c>scratch.Inactive</c>.
    /// </summary>
    internal static bool ResolveCampaigns(CtrEngine engine, CtrEngine.Scratch scratch)
    {
        var request = scratch.Request;
        var n = request.CandidateCount;
        scratch.EnsureCapacity(n);
        scratch.Inactive.Clear();
        scratch.InactiveIds.Clear();
        var candidates = request.Candidates;
        for (var i = 0; i < n; i++)
        {
            SparseFtrlModel? model = null;
            if (engine.CampaignField >= 0 && !candidates[i].CampaignId.IsMissing)
            {
                var id = request.Value(candidates[i].CampaignId);
                var key = FeatureEncoder.CampaignKeyOf(id);
                if (!engine.TryResolveCampaign(key, out model) && !scratch.Inactive.Contains(key))
                {
                    scratch.Inactive.Add(key);
                    scratch.InactiveIds.Add(System.Text.Encoding.UTF8.GetString(id)); // a call follows: this allocation is not the hot path
                }
            }

            scratch.Campaigns[i] = model;
        }

        return scratch.Inactive.Count == 0;
    }

    /// <summary>
    /// Activates the grains of <c>scratch.Inactive</c> (in a cluster: fetches their replicas), one call per campaign,
    /// and resolves again; a 503 problem if one cannot be activated.
    /// </summary>
    internal static async Task<IResult?> ActivateAsync(CtrEngine engine, CtrEngine.Scratch scratch)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var calls = new Task[scratch.Inactive.Count];
            for (var i = 0; i < calls.Length; i++)
            {
                calls[i] = engine.ActivateAsync(scratch.Inactive[i], scratch.InactiveIds[i]);
            }

            try
            {
                await Task.WhenAll(calls).ConfigureAwait(false);
            }
            catch (Exception e) when (GrainFailures.IsUnavailable(e))
            {
                return GrainFailures.Problem(e);
            }

            if (ResolveCampaigns(engine, scratch))
            {
                return null;
            }
        }

        return GrainFailures.Problem(new CampaignUnavailableException(engine.KnownCampaignId(scratch.Inactive[0]) ?? "?"));
    }

    /// <summary>Scores every candidate of the parsed request (campaigns resolved by <see cref="ResolveCampaigns"/>) into the scratch's ctr and impression-id buffers.</summary>
    internal static void Score(CtrEngine engine, CtrEngine.Scratch scratch)
    {
        var request = scratch.Request;
        var n = request.CandidateCount;
        scratch.EnsureCapacity(n);

        var row = scratch.Row;
        var x = scratch.Encoded;
        for (var i = 0; i < n; i++)
        {
            request.FillRow(i, row, engine.CampaignField, engine.AdField, engine.AdvertiserField);
            scratch.Encoder.Encode(row, x);
            var raw = engine.PredictRaw(x, scratch.Campaigns[i]);
            scratch.Ctr[i] = engine.Calibrate(raw);
            engine.WriteImpressionId(scratch.ImpressionIds.AsSpan(i * 17, 17));
            engine.OnServed(scratch.ImpressionIds.AsSpan(i * 17, 17), row, x, raw);
        }

        Array.Clear(scratch.Campaigns, 0, n); // pooled: hold no model of a campaign that may be deactivated
    }

    internal static void WriteResponse(CtrEngine engine, CtrEngine.Scratch scratch, Utf8JsonWriter w)
    {
        var request = scratch.Request;
        w.WriteStartObject();
        if (request.RequestId.IsMissing)
        {
            w.WriteNull("requestId"u8);
        }
        else
        {
            w.WriteString("requestId"u8, request.Value(request.RequestId));
        }

        w.WriteNumber("modelVersion"u8, engine.ExamplesLearned);
        w.WriteStartArray("predictions"u8);
        var candidates = request.Candidates;
        for (var i = 0; i < candidates.Length; i++)
        {
            w.WriteStartObject();
            w.WriteString("adId"u8, request.Value(candidates[i].AdId));
            w.WriteString("campaignId"u8, request.Value(candidates[i].CampaignId));
            w.WriteNumber("ctr"u8, scratch.Ctr[i]);
            w.WriteString("impressionId"u8, scratch.ImpressionIds.AsSpan(i * 17, 17));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }
}

/// <summary>OpenAPI description of a predict request (the handler parses the body itself, strictly).</summary>
internal sealed record PredictRequestDocument(string? RequestId, Dictionary<string, string>? Context, List<CandidateDocument> Candidates);

internal sealed record CandidateDocument(string AdId, string CampaignId, string? AdvertiserId, Dictionary<string, string>? Features);

internal sealed record PredictResponseDocument(string? RequestId, long ModelVersion, List<PredictionDocument> Predictions);

internal sealed record PredictionDocument(string AdId, string CampaignId, double Ctr, string ImpressionId);
