namespace AdCtr.Server.Hosting;

/// <summary>Ready once the models are loaded (and, with durability, the example log replayed).</summary>
internal sealed class ServerReadiness
{
    private volatile string? _notReadyReason = "starting";

    public bool IsReady => _notReadyReason is null;

    public string? NotReadyReason => _notReadyReason;

    public void SetReady() => _notReadyReason = null;

    public void SetNotReady(string reason) => _notReadyReason = reason;
}
