using System.Security.Cryptography;
using System.Text;
using AdCtr.Server.Durability;

namespace AdCtr.Server.Api;

/// <summary>
/// Admin endpoints under <c>/admin</c>, behind the <c>X-Api-Key</c> header (<c>AdCtr:Admin:ApiKey</c>; compared in
/// constant time; wrong or missing: 401 problem+json). Mapped only when a key is configured and durability is on.
/// </summary>
internal static class AdminApi
{
    public const string ApiKeyHeader = "X-Api-Key";

    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder routes, string apiKey)
    {
        var expected = Encoding.UTF8.GetBytes(apiKey);
        var group = routes.MapGroup("/admin");
        group.AddEndpointFilter(async (context, next) =>
        {
            var given = context.HttpContext.Request.Headers[ApiKeyHeader].ToString();
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), expected))
            {
                return TypedResults.Problem(
                    detail: "the " + ApiKeyHeader + " header is missing or wrong",
                    statusCode: StatusCodes.Status401Unauthorized,
                    title: "unauthorized",
                    type: "https://adctr.dev/problems/unauthorized");
            }

            return await next(context).ConfigureAwait(false);
        });
        group.MapPost("/snapshot", SnapshotAsync).WithName("AdminSnapshot").WithSummary("Write a model snapshot now").Produces<SnapshotWritten>().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status507InsufficientStorage);
        group.MapGet("/snapshots", ListSnapshots).WithName("AdminSnapshots").WithSummary("Snapshots on disk, newest first").Produces<List<SnapshotListing>>().ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapPost("/retrain", RetrainAsync).WithName("AdminRetrain").WithSummary("Batch retrain (ML.NET L-BFGS logistic regression, warm-started) on a log window; evaluate, then swap only if better").Accepts<RetrainRequest>("application/json").Produces<RetrainResult>().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/reload", ReloadAsync).WithName("AdminReload").WithSummary("Reload the newest valid snapshot and replay the log after it").Produces<RecoveryReport>().ProducesProblem(StatusCodes.Status401Unauthorized);
        return group;
    }

    private static async Task<IResult> SnapshotAsync(HttpContext context, DurabilityService durability, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await durability.SnapshotAsync(closeIngestion: false, ct).ConfigureAwait(false));
        }
        catch (Exception e) when (IngestionFailures.Classify(e, context) is { } failure)
        {
            // A full disk (507) or another storage fault (503): the previous snapshots are untouched.
            return IngestionFailures.ToResult(context, failure);
        }
    }

    private static IResult ListSnapshots(DurabilityService durability) => TypedResults.Ok(durability.ListSnapshots());

    private static async Task<IResult> ReloadAsync(DurabilityService durability, CancellationToken ct) =>
        TypedResults.Ok(await durability.ReloadAsync(ct).ConfigureAwait(false));

    private static async Task<IResult> RetrainAsync(HttpContext context, BatchRetrainer retrainer, CancellationToken ct)
    {
        RetrainRequest request = new(null, null, null, null, null, null);
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                request = await context.Request.ReadFromJsonAsync(DurabilityJsonContext.Default.RetrainRequest, ct).ConfigureAwait(false) ?? request;
            }
            catch (System.Text.Json.JsonException e)
            {
                return Problems.BadRequest("invalid retrain request", e.Message);
            }
        }

        try
        {
            return TypedResults.Ok(await retrainer.RetrainAsync(request, ct).ConfigureAwait(false));
        }
        catch (ArgumentOutOfRangeException e)
        {
            return Problems.BadRequest("invalid retrain request", e.Message);
        }
        catch (InvalidOperationException e)
        {
            return TypedResults.Problem(detail: e.Message, statusCode: StatusCodes.Status409Conflict, title: "retraining not started", type: "https://adctr.dev/problems/conflict");
        }
        catch (Exception e) when (IngestionFailures.Classify(e, context) is { } failure)
        {
            // The snapshot that follows a swap could not be written (full disk, I/O error): 507/503, the log holds everything.
            return IngestionFailures.ToResult(context, failure);
        }
    }
}
