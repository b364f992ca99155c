using Presence;

namespace OpenTelemetry.Metrics;

/// <summary>Adds the presence engine's metrics to an OpenTelemetry meter provider.</summary>
public static class PresenceMeterProviderBuilderExtensions
{
    /// <summary>
    /// Listens to the presence engine's meter (<see cref="PresenceMetrics.MeterName"/>): publications, heartbeats, devices
    /// dropped, rejected inputs, store failures, federation traffic and the gauges of tracked users, devices and queues.
    /// </summary>
    /// <param name="builder">The meter provider builder, from <c>services.AddOpenTelemetry().WithMetrics(...)</c> or <c>Sdk.CreateMeterProviderBuilder()</c>.</param>
    /// <returns>The builder.</returns>
    public static MeterProviderBuilder AddPresenceInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(PresenceMetrics.MeterName);
    }
}
