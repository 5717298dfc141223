using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Grains.Runtime;

internal static class ThrowHelper
{
    [DoesNotReturn]
    internal static T ThrowNotRegistered<T>(Type grainType) =>
        throw new InvalidOperationException("Grain type " + grainType.FullName + " is not registered with this GrainRuntime.");

    [DoesNotReturn]
    internal static void ThrowStopped() =>
        throw new InvalidOperationException("The grain runtime is stopping or stopped: no new activation can be created.");

    [DoesNotReturn]
    internal static T ThrowNotActivated<T>() =>
        throw new InvalidOperationException("The grain is not activated: runtime members are available from OnActivateAsync on.");
}
