using AdCtr.Server.Model;

namespace AdCtr.Server.Api;

/// <summary>
/// Grain calls that fail for reasons of the silo, not of the request: an Orleans timeout, a rejected message, an
/// unavailable silo, a campaign whose stored state cannot be read. They answer 503 with <c>Retry-After</c>; nothing
/// of the request was acknowledged. Any other exception is a bug and stays one (500, logged).
/// </summary>
internal static class GrainFailures
{
    /// <summary>Seconds a client should wait before retrying.</summary>
    public const int RetryAfterSeconds = 1;

    public static bool IsUnavailable(Exception e) => e switch
    {
        TimeoutException or OrleansException or CampaignUnavailableException or InvalidDataException or IOException => true,
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsUnavailable),
        _ => false,
    };

    public static IResult Problem(Exception e) => new RetryAfterResult(TypedResults.Problem(
        detail: Detail(e),
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "model temporarily unavailable",
        type: "https://adctr.dev/problems/unavailable"));

    private static string Detail(Exception e) => e switch
    {
        TimeoutException => "a campaign grain did not answer in time (AdCtr:Grains:CallTimeout); nothing of this request was acknowledged, retry it",
        CampaignUnavailableException c => c.Message + "; retry the request",
        AggregateException a when a.InnerExceptions.Count > 0 => Detail(a.InnerExceptions[0]),
        _ => "a campaign grain is unavailable (" + e.GetType().Name + ": " + e.Message + "); nothing of this request was acknowledged, retry it",
    };

    /// <summary>A result with a <c>Retry-After</c> header.</summary>
    private sealed class RetryAfterResult(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
