namespace AdCtr.Grains.Runtime;

/// <summary>Why an activation is being deactivated (same codes as Orleans' DeactivationReasonCode).</summary>
public enum DeactivationReasonCode
{
    None = 0,

    /// <summary>The activation was idle for longer than <see cref="GrainRuntimeOptions.IdleTimeout"/>.</summary>
    ActivationIdle = 1,

    /// <summary>The runtime is stopping.</summary>
    ShuttingDown = 2,

    /// <summary>The grain called <see cref="Grain.DeactivateOnIdle"/>.</summary>
    ApplicationRequested = 3,
}

/// <summary>The reason passed to <see cref="Grain.OnDeactivateAsync"/>.</summary>
public readonly record struct DeactivationReason(DeactivationReasonCode ReasonCode, string Description)
{
    internal static readonly DeactivationReason Idle = new(DeactivationReasonCode.ActivationIdle, "The activation was idle.");
    internal static readonly DeactivationReason ShuttingDown = new(DeactivationReasonCode.ShuttingDown, "The grain runtime is stopping.");
    internal static readonly DeactivationReason Requested = new(DeactivationReasonCode.ApplicationRequested, "The grain requested deactivation.");
}
