using System.Globalization;
using AdCtr.Server.Durability;
using AdCtr.Server.Storage;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Api;

/// <summary>
/// Why a batch of <c>/v1/examples</c> or <c>/v1/events</c> could not be ingested, as the HTTP answer says it:
/// not the client's fault, nothing of the batch was acknowledged or learned, and the same batch may be sent again
/// after <see cref="RetryAfter"/>.
/// </summary>
/// <param name="StatusCode">507 (no space for the example log) or 503 (anything else that is temporary).</param>
/// <param name="Title">Short problem title.</param>
/// <param name="Type">Problem type URI.</param>
/// <param name="Detail">What happened, naming the cause (for a storage fault: the directory and the OS error).</param>
/// <param name="RetryAfter">Sent as the <c>Retry-After</c> header (whole seconds, at least 1).</param>
public sealed record IngestionFailure(int StatusCode, string Title, string Type, string Detail, TimeSpan RetryAfter);

/// <summary>
/// The one place that turns exceptions of the ingestion path into HTTP answers (used by <c>ExamplesApi</c> and
/// <c>EventsApi</c>). An exception it does not know is a bug and goes on to the 500 handler. To map another
/// temporary failure (e.g. a grain call that timed out), add a case to <see cref="Classify(Exception, DurabilityOptions)"/>.
/// </summary>
internal static class IngestionFailures
{
    /// <summary>The failure an exception of the ingestion path (or of a snapshot) stands for, or null when it is not one (a bug).</summary>
    public static IngestionFailure? Classify(Exception exception, DurabilityOptions options)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(options);
        var retry = options.StorageProbeInterval;
        switch (exception)
        {
            case ServiceClosingException closing:
                return new IngestionFailure(StatusCodes.Status503ServiceUnavailable, "shutting down", "https://adctr.dev/problems/unavailable", closing.Message, TimeSpan.FromSeconds(5));
            case StorageFaultException { Kind: StorageFaultKind.NoSpace } full:
                return new IngestionFailure(
                    StatusCodes.Status507InsufficientStorage,
                    "insufficient storage",
                    "https://adctr.dev/problems/insufficient-storage",
                    full.Message + (full.Operation == "snapshot" ? "" : "; nothing of this batch was stored or learned: send it again later"),
                    retry);
            case StorageFaultException fault:
                return new IngestionFailure(
                    StatusCodes.Status503ServiceUnavailable,
                    "storage unavailable",
                    "https://adctr.dev/problems/storage-unavailable",
                    fault.Message + (fault.Operation == "snapshot" ? "" : "; nothing of this batch was stored or learned: send it again later"),
                    retry);
            case AdCtr.Grains.Journal.JournalUnavailableException journal:
                return new IngestionFailure(
                    StatusCodes.Status503ServiceUnavailable,
                    "durable store unavailable",
                    "https://adctr.dev/problems/storage-unavailable",
                    journal.Message + "; nothing of this batch was acknowledged: send it again later (with the same Idempotency-Key)",
                    TimeSpan.FromSeconds(2));
            default:
                return null;
        }
    }

    /// <summary><see cref="Classify(Exception, DurabilityOptions)"/> with the server's options.</summary>
    public static IngestionFailure? Classify(Exception exception, HttpContext context) =>
        Classify(exception, context.RequestServices.GetService<IOptions<DurabilityOptions>>()?.Value ?? new DurabilityOptions());

    /// <summary>The problem+json answer of a failure, with its <c>Retry-After</c> header.</summary>
    public static IResult ToResult(HttpContext context, IngestionFailure failure)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(failure.RetryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(detail: failure.Detail, statusCode: failure.StatusCode, title: failure.Title, type: failure.Type);
    }
}
