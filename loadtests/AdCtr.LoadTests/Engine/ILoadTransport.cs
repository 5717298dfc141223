namespace AdCtr.LoadTests.Engine;

/// <summary>One pre-serialised request: the body is built once per profile and sent many times.</summary>
/// <param name="Kind">The request kind (predict, examples, impressions, clicks, events, echo), for reports.</param>
public sealed record LoadRequest(string Kind, string Path, string ContentType, byte[] Body);

/// <summary>Sends a request and returns an <see cref="Outcome"/> code; never throws for transport failures.</summary>
public interface ILoadTransport
{
    /// <summary>
    /// Returns the HTTP status code, or one of the negative <see cref="Outcome"/> codes. An implementation must not
    /// do its work on the calling thread (the scheduler thread calls it): hop to the thread pool first.
    /// </summary>
    ValueTask<int> SendAsync(LoadRequest request, CancellationToken cancellationToken);
}

/// <summary>Result codes: 100..599 are HTTP statuses, the negative values are transport failures.</summary>
public static class Outcome
{
    /// <summary>Not completed when the stage ended (counted as a timeout).</summary>
    public const int Pending = 0;
    public const int Timeout = -1;
    public const int Socket = -2;
    public const int Protocol = -3;
    /// <summary>Not sent: too many requests already in flight (the generator's safety cap).</summary>
    public const int Dropped = -4;
    public const int Other = -5;
    public const int Cancelled = -6;

    public static bool IsSuccess(int code) => code is >= 200 and < 300;

    /// <summary>Stable names used as error kinds in reports: <c>http-503</c>, <c>timeout</c>, <c>socket</c>...</summary>
    public static string Name(int code) => code switch
    {
        Pending => "unfinished",
        Timeout => "timeout",
        Socket => "socket",
        Protocol => "protocol",
        Dropped => "dropped",
        Cancelled => "cancelled",
        Other => "other",
        _ => "http-" + code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
