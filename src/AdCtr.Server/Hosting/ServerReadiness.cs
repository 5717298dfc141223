namespace AdCtr.Server.Hosting;

/// <summary>
/// Ready once the models are loaded (and, with durability, the example log replayed), and while every registered
/// condition holds (e.g. the example log's device takes writes). Liveness does not depend on it.
/// </summary>
internal sealed class ServerReadiness
{
    private readonly Lock _lock = new();
    private volatile string? _notReadyReason = "starting";
    private volatile Func<string?>[] _conditions = [];

    public bool IsReady => NotReadyReason is null;

    /// <summary>Why the server is not ready (start-up or reload, else the first failing condition); null when ready.</summary>
    public string? NotReadyReason
    {
        get
        {
            if (_notReadyReason is { } reason)
            {
                return reason;
            }

            foreach (var condition in _conditions)
            {
                if (condition() is { } failing)
                {
                    return failing;
                }
            }

            return null;
        }
    }

    public void SetReady() => _notReadyReason = null;

    public void SetNotReady(string reason) => _notReadyReason = reason;

    /// <summary>Adds a condition asked at every readiness query: not ready while it returns a reason (keep it cheap).</summary>
    public void AddCondition(Func<string?> notReadyReason)
    {
        ArgumentNullException.ThrowIfNull(notReadyReason);
        lock (_lock)
        {
            _conditions = [.. _conditions, notReadyReason];
        }
    }
}
