using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Presence.Internal;

/// <summary>
/// A <see cref="TimeSpan"/> option's range, checked by the generated options validator. A trim-safe stand-in for
/// <c>[Range(typeof(TimeSpan), …)]</c>, whose constructor needs reflection over type converters.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
internal sealed class DurationRangeAttribute : ValidationAttribute
{
    private readonly TimeSpan _minimum;
    private readonly TimeSpan _maximum;

    /// <param name="minimum">The shortest accepted, as <c>[d.]hh:mm:ss</c>.</param>
    /// <param name="maximum">The longest accepted, as <c>[d.]hh:mm:ss</c>.</param>
    public DurationRangeAttribute(string minimum, string maximum)
    {
        _minimum = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);
        _maximum = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);
    }

    /// <summary>Gets or sets a value indicating whether the minimum itself is refused (the value must be longer).</summary>
    public bool MinimumIsExclusive { get; set; }

    public override bool IsValid(object? value)
        => value is not TimeSpan span || ((MinimumIsExclusive ? span > _minimum : span >= _minimum) && span <= _maximum);

    public override string FormatErrorMessage(string name)
        => string.Create(CultureInfo.InvariantCulture, $"{name} must be {(MinimumIsExclusive ? "longer than" : "at least")} {_minimum} and at most {_maximum}.");
}

/// <summary>A <see cref="TimeSpan"/> option that must be longer than zero and at most 365 days.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
internal sealed class PositiveDurationAttribute : ValidationAttribute
{
    private static readonly TimeSpan Maximum = TimeSpan.FromDays(365);

    public override bool IsValid(object? value) => value is not TimeSpan span || (span > TimeSpan.Zero && span <= Maximum);

    public override string FormatErrorMessage(string name) => $"{name} must be longer than zero and at most 365 days.";
}
