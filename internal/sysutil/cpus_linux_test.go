//go:build linux

package sysutil

import "testing"

func TestParseCPUList(t *testing.T) {
	cases := []struct {
		list string
		want []int // CPUs in the set; nil: an error
	}{
		{list: "0", want: []int{0}},
		{list: "0-3,6", want: []int{0, 1, 2, 3, 6}},
		{list: " 2 , 4-5", want: []int{2, 4, 5}},
		{list: ""},
		{list: "3-1"},
		{list: "a"},
		{list: "-1"},
		{list: "0-99999"},
	}
	for _, tc := range cases {
		set, err := ParseCPUList(tc.list)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q: accepted", tc.list)
			}
			continue
		}
		if err != nil || set.Count() != len(tc.want) {
			t.Errorf("%q: %v, %d CPUs; want %v", tc.list, err, set.Count(), tc.want)
			continue
		}
		for _, c := range tc.want {
			if !set.IsSet(c) {
				t.Errorf("%q: CPU %d not set", tc.list, c)
			}
		}
	}
}

func TestShareCPUs(t *testing.T) {
	if !ShareCPUs(0, 0) {
		t.Error("a process does not share CPUs with itself")
	}
	if !ShareCPUs(0, -1) {
		t.Error("an unreadable mask should count as shared")
	}
}
