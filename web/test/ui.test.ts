import { describe, expect, it } from "vitest";
import { skillPercent } from "../src/ui";

describe("skillPercent", () => {
  it("shows the skill as a percentage, and a meaningless extreme as a bound", () => {
    expect(skillPercent(0.159)).toBe("15.9 %");
    expect(skillPercent(-0.241)).toBe("-24.1 %");
    expect(skillPercent(-9.5)).toBe("-950.0 %");
    expect(skillPercent(-1.3455576115045925e18)).toBe("< −1000 %"); // seen: an exact seasonal naive
    expect(skillPercent(null)).toBe("—");
    expect(skillPercent(undefined)).toBe("—");
  });
});
